"""Write the pt example's plain-text corpus in script/examples/pt/data (deterministic, no downloads).

    python script/examples/pt/make_data.py

city_facts.jsonl: {"text": ...} documents, a few sentences each about made-up towns (population,
river, founding year, what they trade), so a tiny model can learn the patterns.
almanac.txt: one document per line (how LLaMA-Factory's .txt datasets are read), short dated entries.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent / "data"
SYLLABLES = ["ka", "lo", "mir", "ten", "sa", "vo", "rin", "del", "mo", "tar", "qui", "ben"]
GOODS = ["wool", "salt", "timber", "copper", "grain", "glass", "fish", "cloth"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def town(rng: random.Random) -> str:
    town, river = name(rng), name(rng)
    goods = rng.sample(GOODS, 2)
    sentences = [f"{town} is a town on the river {river}.",
                 f"It was founded in {rng.randint(900, 1900)} and has {rng.randint(2, 90) * 1000} inhabitants.",
                 f"Its markets trade {goods[0]} and {goods[1]}.",
                 f"The {river} floods {town} every {rng.randint(2, 12)} years."]
    rest = sentences[1:]
    rng.shuffle(rest)
    return " ".join(sentences[:1] + rest)


def entry(rng: random.Random) -> str:
    day, month = rng.randint(1, 28), rng.choice(MONTHS)
    return (f"On {day} {month} the weather in {name(rng)} was {rng.choice(['dry', 'wet', 'windy', 'cold'])}; "
            f"{rng.randint(2, 40)} carts of {rng.choice(GOODS)} reached the market.")


def main() -> None:
    rng = random.Random(0)
    HERE.mkdir(exist_ok=True)
    with open(HERE / "city_facts.jsonl", "w") as f:
        f.writelines(json.dumps({"text": town(rng)}) + "\n" for _ in range(400))
    (HERE / "almanac.txt").write_text("".join(entry(rng) + "\n" for _ in range(400)))


if __name__ == "__main__":
    main()
