"""Held-out WikiQA helpers for the pooling-quality tables of references/pooling.md (issue 18).

    python bench/wikiqa_pooling.py split OUTDIR      # OUTDIR outside the project, e.g. /tmp/wikiqa
        the split script/examples/rerank/wikiqa_split.py trains on (data.val_size 0.3, data.seed 0) as files:
        OUTDIR/wikiqa_train.jsonl (88 queries), OUTDIR/wikiqa_heldout.jsonl (38), and
        OUTDIR/wikiqa_train_scored.jsonl: FlagEmbedding rows (the train queries' own negatives) with the
        starting MiniLM's teacher scores (100 x cosine), for embed's task.distill
    python bench/wikiqa_pooling.py fusion MODEL_DIR [CUTOFF]
        ranks the train and held-out queries by MODEL_DIR's logit + w x the starting MiniLM's cosine for a grid
        of w (w = inf: the zero-shot bi-encoder, ties broken by the logit) and prints ndcg@10 / mrr@10 per w

Run in the dev env: source script/env/_bootstrap.sh; "$MGT_BOOTSTRAP_PY" -m mgtrainer.env run dev -- python ...
The rows are WikiQA's (research license): OUTDIR must not be inside the project.
"""

import json
import sys
from pathlib import Path

from mgtrainer import tasks
from mgtrainer.app import runs
from mgtrainer.config import load_config
from mgtrainer.driver.model import minilm_path

WIKIQA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "wikiqa" / "wikiqa_dev_rerank.jsonl"
WEIGHTS = [0, 0.5, 1, 2, 5, 10, 20, float("inf")]


def splits(cutoff: int = 96):
    data = {"train": [str(WIKIQA)], "val_size": 0.3, "cutoff_len": cutoff, "seed": 0}
    cfg = load_config({"task": {"name": "rerank"}, "model": {"name_or_path": str(minilm_path())}, "data": data,
                       "train": {"output_dir": "/tmp/wikiqa_pooling", "per_device_eval_batch_size": 64},
                       "lora": {"finetuning_type": "full"}}, [])
    return cfg, runs.load_data(cfg, tasks.get("rerank"))


def write_split(out: Path) -> None:
    from mgtrainer.driver.prior import base_cosines

    if Path(__file__).resolve().parents[1] in out.resolve().parents:
        sys.exit(f"{out}: inside the project; expected a folder outside it (the rows are WikiQA's)")
    out.mkdir(parents=True, exist_ok=True)
    _, s = splits()
    for name, recs in (("train", s.train), ("heldout", s.eval)):
        rows = [{"query": r.query, "passages": [{"text": p, "label": lab} for p, lab in zip(r.passages, r.labels)]}
                for r in recs]
        (out / f"wikiqa_{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    rows = []
    for r in s.train:
        pos = [p for p, lab in zip(r.passages, r.labels) if lab > 0]
        neg = [p for p, lab in zip(r.passages, r.labels) if lab <= 0]
        if pos and neg:  # distillation needs a negative to compare the positive with
            rows.append({"query": r.query, "pos": pos, "neg": neg})
    pairs = [(x["query"], p) for x in rows for p in x["pos"] + x["neg"]]
    cos = iter(base_cosines(str(minilm_path()), [q for q, _ in pairs], [p for _, p in pairs], 96))
    scored = [x | {"pos_scores": [round(100 * next(cos), 4) for _ in x["pos"]],
                   "neg_scores": [round(100 * next(cos), 4) for _ in x["neg"]]} for x in rows]
    (out / "wikiqa_train_scored.jsonl").write_text("".join(json.dumps(x) + "\n" for x in scored))
    print(f"{len(s.train)} train, {len(s.eval)} held-out queries, {len(scored)} scored rows -> {out}")


def fusion(model_dir: str, cutoff: int = 96) -> None:
    from mgtrainer.driver.metrics import ranking_metrics
    from mgtrainer.driver.pooling import score
    from mgtrainer.driver.pooling_fit import load
    from mgtrainer.driver.tokenize import separate_pairs
    from mgtrainer.tasks.rerank import bi_encoder_scores, per_query

    cfg, s = splits(cutoff)
    tok, model = load(cfg, "sequence_classification", model_dir)
    separate_pairs(tok)
    model.eval()
    print("| queries | w | ndcg@10 | mrr@10 |\n|---|---|---|---|")
    for name, recs in (("train", s.train), ("held-out", s.eval)):
        cos = bi_encoder_scores(cfg, recs, cutoff)
        flat = score(model, tok, [r.query for r in recs for _ in r.passages], [p for r in recs for p in r.passages],
                     cutoff, 64).tolist()
        logits = per_query(flat, recs)
        for w in WEIGHTS:
            fused = [[(c + 1e-9 * x) if w == float("inf") else x + w * c for x, c in zip(xs, cs)]
                     for xs, cs in zip(logits, cos)]
            m = ranking_metrics(fused, [r.labels for r in recs])
            print(f"| {name} | {w} | {m['ndcg@10']:.4f} | {m['mrr@10']:.4f} |", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("split", "fusion"):
        sys.exit(__doc__)
    if sys.argv[1] == "split":
        write_split(Path(sys.argv[2]))
    else:
        fusion(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 96)
