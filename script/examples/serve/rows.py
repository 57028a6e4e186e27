"""Small file helpers for the inference recipes (standard library only).

    python rows.py to-csv IN.jsonl OUT.csv            {"text", "label"} rows -> a CSV with those columns
    python rows.py score PREDICTED.csv OUT.json       accuracy of the `prediction` column against `label`
    python rows.py last-json STDOUT.txt OUT.json      the last JSON object printed (`mgtrainer eval`'s metrics)
"""

import csv
import json
import sys
from pathlib import Path


def to_csv(src: str, dst: str) -> None:
    rows = [json.loads(line) for line in Path(src).read_text().splitlines() if line.strip()]
    with open(dst, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["text", "label"])
        w.writeheader()
        w.writerows({"text": r["text"], "label": r["label"]} for r in rows)


def score(src: str, dst: str) -> None:
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    missing = [i + 2 for i, r in enumerate(rows) if not r.get("prediction")]
    if missing:
        raise SystemExit(f"{src}:{missing[0]}: no prediction; expected predict to fill every row")
    acc = sum(r["prediction"] == r["label"] for r in rows) / len(rows)
    Path(dst).write_text(json.dumps({"rows": len(rows), "accuracy": acc}) + "\n")
    print(f"{len(rows)} rows predicted, accuracy {acc:.4f} -> {dst}")


def last_json(src: str, dst: str) -> None:
    text = Path(src).read_text()
    start = text.rfind("\n{") + 1 if not text.startswith("{") or text.rfind("\n{") >= 0 else 0
    metrics = json.loads(text[start:text.rindex("}") + 1])
    Path(dst).write_text(json.dumps(metrics, indent=1) + "\n")


if __name__ == "__main__":
    {"to-csv": to_csv, "score": score, "last-json": last_json}[sys.argv[1]](*sys.argv[2:])
