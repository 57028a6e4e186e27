"""Write the dpo example's data (deterministic, no downloads).

    python script/examples/dpo/make_data.py

dpo/data/arith_pairs.jsonl   TRL rows: prompt (messages), chosen / rejected (assistant turns): the right sum
                             or product is chosen, a wrong one (off by a little) rejected.
dpo/data/arith_hh.jsonl      the same kind of pairs as Anthropic-HH transcripts ("\\n\\nHuman: ...").
"""

import json
import random
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1]


def question(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(2, 30), rng.randint(2, 30)
    return (f"What is {a} plus {b}?", a + b) if rng.random() < 0.5 else (f"What is {a} times {b}?", a * b)


def answers(rng: random.Random, value: int) -> tuple[str, str]:
    wrong = value + rng.choice([-3, -2, -1, 1, 2, 3])
    return f"The answer is {value}.", f"The answer is {wrong}."


def main() -> None:
    rng = random.Random(7)
    pairs, hh = [], []
    for i in range(240):
        q, value = question(rng)
        good, bad = answers(rng, value)
        pairs.append({"prompt": [{"role": "user", "content": q}], "chosen": [{"role": "assistant", "content": good}],
                      "rejected": [{"role": "assistant", "content": bad}]})
        if i < 60:
            hh.append({"chosen": f"\n\nHuman: {q}\n\nAssistant: {good}", "rejected": f"\n\nHuman: {q}\n\nAssistant: {bad}"})
        rng.random()  # the draw of a former kto label: kept, so the shipped pairs stay as they are
    for path, rows in ((EXAMPLES / "dpo" / "data" / "arith_pairs.jsonl", pairs),
                       (EXAMPLES / "dpo" / "data" / "arith_hh.jsonl", hh)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
