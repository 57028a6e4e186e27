"""Write the grpo examples' data in script/examples/grpo/data (deterministic, no downloads).

    python script/examples/grpo/make_data.py

The generated task: "answer with a number". prompts.jsonl: prompt-only rows ({prompt, answer}) for grpo;
sft.jsonl: the same kind of question answered half with a number ("There are 12."), half without ("I am
not sure."), so the sft model says both; pairs.jsonl: preference rows, the numeric answer chosen over the
wordy one, for the rm the pipeline's grpo reward comes from.
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent / "data"
THINGS = ["apples", "birds", "stones", "trees", "boats", "clouds", "books", "chairs", "lamps", "coins"]
PLACES = ["the basket", "the garden", "the river", "the park", "the room", "the box", "the shop", "the field"]
WORDY = ["I am not sure.", "Hard to say.", "Nobody knows that.", "Let me think about it.", "That depends.",
         "I cannot tell."]


def question(rng: random.Random) -> tuple[str, int]:
    return f"How many {rng.choice(THINGS)} are in {rng.choice(PLACES)}? Answer with a number.", rng.randint(2, 99)


def numeric(n: int, rng: random.Random) -> str:
    return rng.choice([f"There are {n}.", f"{n}.", f"The answer is {n}."])


def write(name: str, rows: list[dict]) -> None:
    (HERE / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def main() -> None:
    rng = random.Random(13)
    HERE.mkdir(exist_ok=True)
    write("prompts.jsonl", [{"prompt": q, "answer": str(n)} for q, n in (question(rng) for _ in range(256))])
    sft = []
    for _ in range(256):
        q, n = question(rng)
        answer = numeric(n, rng) if rng.random() < 0.5 else rng.choice(WORDY)
        sft.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": answer}]})
    write("sft.jsonl", sft)
    write("pairs.jsonl", [{"prompt": q, "chosen": numeric(n, rng), "rejected": rng.choice(WORDY)}
                          for q, n in (question(rng) for _ in range(256))])
    print(f"wrote prompts.jsonl, sft.jsonl, pairs.jsonl in {HERE}")


if __name__ == "__main__":
    main()
