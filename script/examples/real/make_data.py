"""Write the real-model examples' data in script/examples/real/data (deterministic, no downloads).

    python script/examples/real/make_data.py

The skill: write an ISO date in words ("Write 1953-11-18 in words." -> "18 November 1953"). SmolLM2-135M-
Instruct answers none of these right (it echoes the ISO date), a LoRA learns it in a few hundred rows, and
the answer is checked exactly, so every stage has a held-out measure a rule can compute. Train and
held-out dates never overlap, and two of the eight phrasings appear only in the held-out rows.

dates_sft.jsonl / dates_heldout.jsonl   OpenAI messages (user asks, assistant answers); held-out rows are
                                        the eval prompts with their reference answers
dates_dpo.jsonl / dates_dpo_heldout.jsonl  prompt/chosen/rejected: the right answer vs a plausible wrong one
                                        (month off by one, day/month swapped, the ISO echo the base model writes)
dates_kto.jsonl                         prompt/completion/label: the dpo rows unpaired, right = true
dates_grpo.jsonl                        prompt + answer (the reference, for rule rewards such as token_f1)
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent / "data"
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
TRAIN_ASKS = ["Write the date {d} in words.", "How do you write {d} in words?", "Spell out the date {d}.",
              "Convert {d} to a written date.", "{d}: write this date in words.", "Please write {d} as words."]
HELDOUT_ASKS = ["Express the date {d} in words.", "What is {d} written out in words?"]


def dates(rng: random.Random, n: int, seen: set) -> list[tuple[int, int, int]]:
    out = []
    while len(out) < n:
        ymd = (rng.randint(1900, 2099), rng.randint(1, 12), rng.randint(1, 28))
        if ymd not in seen:
            seen.add(ymd)
            out.append(ymd)
    return out


def iso(y: int, m: int, d: int) -> str:
    return f"{y}-{m:02d}-{d:02d}"


def words(y: int, m: int, d: int) -> str:
    return f"{d} {MONTHS[m - 1]} {y}"


def wrong(rng: random.Random, y: int, m: int, d: int) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        return f"{d} {MONTHS[m % 12]} {y}"  # the next month
    if kind == 1 and d <= 12 and d != m:
        return f"{m} {MONTHS[d - 1]} {y}"  # day and month swapped
    return f"{iso(y, m, d)}: {iso(y, m, d)}"  # what the base model writes


def rows(rng: random.Random, ymds, asks) -> list[tuple[str, str, str]]:
    return [(rng.choice(asks).format(d=iso(*ymd)), words(*ymd), wrong(rng, *ymd)) for ymd in ymds]


def chat(prompt: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]}


def write(name: str, items: list[dict]) -> None:
    with open(HERE / name, "w") as f:
        f.writelines(json.dumps(item) + "\n" for item in items)


def main() -> None:
    rng, seen = random.Random(0), set()
    heldout = rows(rng, dates(rng, 100, seen), TRAIN_ASKS[:3] + HELDOUT_ASKS)
    train = rows(rng, dates(rng, 400, seen), TRAIN_ASKS)
    HERE.mkdir(exist_ok=True)
    write("dates_sft.jsonl", [chat(p, a) for p, a, _ in train])
    write("dates_heldout.jsonl", [chat(p, a) for p, a, _ in heldout])
    write("dates_dpo.jsonl", [{"prompt": p, "chosen": a, "rejected": w} for p, a, w in train[:300]])
    write("dates_dpo_heldout.jsonl", [{"prompt": p, "chosen": a, "rejected": w} for p, a, w in heldout])
    kto = [{"prompt": p, "completion": c, "label": ok} for p, a, w in train[:300] for c, ok in ((a, True), (w, False))]
    write("dates_kto.jsonl", kto)
    write("dates_grpo.jsonl", [{"prompt": p, "answer": a} for p, a, _ in train[:300]])


if __name__ == "__main__":
    main()
