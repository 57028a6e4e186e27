"""Write the real-model examples' data in script/examples/real/data (deterministic, no downloads).

    python script/examples/real/make_data.py
    python script/examples/real/make_data.py score ANSWERS.jsonl OUT.json   (the preference recipes' held-out measure)

The skill: write an ISO date in words ("Write 1953-11-18 in words." -> "18 November 1953"). SmolLM2-135M-
Instruct answers none of these right (it echoes the ISO date), a LoRA learns it in a few hundred rows, and
the answer is checked exactly, so every stage has a held-out measure a rule can compute. Train and
held-out dates never overlap, and two of the eight phrasings appear only in the held-out rows.

dates_sft.jsonl / dates_heldout.jsonl   OpenAI messages (user asks, assistant answers); held-out rows are
                                        the eval prompts with their reference answers
dates_dpo.jsonl / dates_dpo_heldout.jsonl  prompt/chosen/rejected: the right answer vs a plausible wrong one
                                        (month off by one, day/month swapped, the ISO echo the base model writes)
dates_kto.jsonl / dates_kto_heldout.jsonl  prompt/completion/label: the dpo rows unpaired, right = true

`score` reads `mgtrainer predict`'s answers to dates_heldout.jsonl (its rows + `prediction`) and writes
{"prompts", "exact_match", "token_f1"}: the means of mgtrainer.rewards' exact_text (up to case, whitespace
and a final period) and token_f1 (word-overlap F1) against each row's reference answer. The preference
tasks log no generation metric of their own, so their recipes measure greedy answers this way.
dates_grpo.jsonl                        prompt + answer (the reference, for rule rewards such as token_f1)
dates_pt.jsonl / dates_pt_heldout.jsonl text: the same dates as one line of prose each (continued pretraining)
"""

import json
import random
import sys
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
    write("dates_kto_heldout.jsonl", [{"prompt": p, "completion": c, "label": ok}
                                      for p, a, w in heldout for c, ok in ((a, True), (w, False))])
    write("dates_grpo.jsonl", [{"prompt": p, "answer": a} for p, a, _ in train[:300]])
    write("dates_pt.jsonl", [{"text": prose(p, a)} for p, a, _ in train])
    write("dates_pt_heldout.jsonl", [{"text": prose(p, a)} for p, a, _ in heldout])


def prose(prompt: str, answer: str) -> str:
    """A line of plain text that states the skill (continued pretraining's corpus): no chat, no question."""
    date = next(word.rstrip(".?:") for word in prompt.split() if word[:1].isdigit())
    return f"The date {date} is written {answer} in words, and {answer} is written {date} in ISO form."


def score(answers: str, out: str) -> None:
    """Exact match and token F1 of predicted answers (rows with messages + prediction) against the references."""
    from mgtrainer.rewards import exact_text, token_f1

    rows = [json.loads(x) for x in Path(answers).read_text().splitlines() if x.strip()]
    refs = [r["messages"][-1]["content"] for r in rows]
    preds = [r["prediction"] for r in rows]
    em, f1 = exact_text(preds, answer=refs), token_f1(preds, answer=refs)
    result = {"prompts": len(rows), "exact_match": sum(em) / len(rows), "token_f1": sum(f1) / len(rows)}
    Path(out).write_text(json.dumps(result) + "\n")
    print(f"held-out greedy answers: exact match {result['exact_match']:.2f}, token F1 {result['token_f1']:.3f} "
          f"({len(rows)} prompts) -> {out}")


if __name__ == "__main__":
    score(*sys.argv[2:]) if sys.argv[1:2] == ["score"] else main()
