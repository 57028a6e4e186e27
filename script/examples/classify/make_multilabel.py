"""Multi-label intents (deterministic, no downloads): requests that ask for one or two things at once.

    python script/examples/classify/make_multilabel.py [OUT_DIR]   (default outputs/data/intents_multi)

Built from the single-intent set this project ships (classify/data, made by make_intents.py): a row is one
request, or two joined by "and then", labelled with the sorted list of their intents. Train pairs come
from the train file, eval pairs from the eval file.
"""

import json
import random
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
out = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/data/intents_multi")
out.mkdir(parents=True, exist_ok=True)
for split, n in (("train", 480), ("eval", 120)):
    rows = [json.loads(line) for line in (DATA / f"intents_{split}.jsonl").read_text().splitlines() if line.strip()]
    rng = random.Random(split)
    made = []
    for _ in range(n):
        a, b = rng.sample(rows, 2)
        if rng.random() < 0.3 or a["label"] == b["label"]:
            made.append({"text": a["text"], "label": [a["label"]]})
        else:
            made.append({"text": f"{a['text']} and then {b['text']}", "label": sorted({a["label"], b["label"]})})
    (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in made))
print(f"wrote {out}/train.jsonl, {out}/eval.jsonl")
