"""Training throughput of mgtrainer's embed and rerank tasks vs sentence-transformers' own trainers.

Same model (all-MiniLM-L6-v2), same rows (WikiQA dev from ../shared, turned into training rows by the task's
own code; embed trains both sides on the same (query, positive, negative) triplets, written to a temp
file for mgtrainer), same batch size, max length, learning rate, optimizer, steps and loss (InfoNCE with
in-batch + 1 hard negative at temperature 0.05 = MultipleNegativesRankingLoss(scale=20); pointwise BCE =
BinaryCrossEntropyLoss), in the same process. The optimizer is pinned on both sides (default: fused AdamW,
transformers' and so sentence-transformers' default with torch >= 2.8). samples/s = rows trained /
transformers' train_runtime. Each side runs `--repeats` times alternately; the table shows the best run of each.

    python bench/pooling_throughput.py [--steps 20] [--batch 16] [--repeats 3] [--optim adamw_torch_fused]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
WIKIQA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "wikiqa" / "wikiqa_dev_rerank.jsonl"


def mgt_config(task: dict, out: str, args, data: Path = WIKIQA):
    from mgtrainer.config import load_config
    from mgtrainer.driver.model import minilm_path

    return load_config({
        "task": task, "model": {"name_or_path": str(minilm_path())},
        "data": {"train": [str(data)], "cutoff_len": args.max_len},
        "train": {"output_dir": out, "max_steps": args.steps, "per_device_train_batch_size": args.batch,
                  "learning_rate": 2e-5, "logging_steps": args.steps, "save_strategy": "no", "report_to": "none",
                  "seed": 0, "optim": args.optim},
        "lora": {"finetuning_type": "full"},
    }, [])


def run_mgtrainer(task: dict, args) -> float:
    from mgtrainer.app import runs

    with tempfile.TemporaryDirectory() as out:
        data = WIKIQA
        if task["name"] == "embed":  # exactly the triplets sentence-transformers trains on
            data = Path(out) / "triplets.jsonl"
            data.write_text("".join(json.dumps({"query": r["anchor"], "pos": [r["positive"]], "neg": [r["negative"]]})
                                    + "\n" for r in st_rows(task, args)))
        runs.train(mgt_config(task, out, args, data))
        rows = [json.loads(line) for line in open(Path(out) / "metrics.jsonl")]
    runtime = next(r["train_runtime"] for r in rows if "train_runtime" in r)
    return args.steps * args.batch / runtime


def st_rows(task: dict, args) -> list[dict]:
    """The rows mgtrainer trains on, from mgtrainer's own task code, in sentence-transformers' columns."""
    from mgtrainer.data import load_splits
    from mgtrainer.tasks import embed, rerank

    cfg = mgt_config(task, "/tmp/unused", args)
    if task["name"] == "embed":
        recs = load_splits(cfg.data, "embed").train
        return [{"anchor": r["query"], "positive": r["pos"][0], "negative": r["neg"][0]}
                for r in embed.rows_of(recs) if r["neg"]]
    recs = load_splits(cfg.data, "rerank").train
    return [{"query": r["query"], "passage": r["passage"], "label": float(r["target"])}
            for r in rerank.pointwise_rows(cfg, recs)]


def run_st(task: dict, args) -> float:
    from datasets import Dataset
    from sentence_transformers import (CrossEncoder, SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from mgtrainer.driver.model import minilm_path

    data = Dataset.from_list(st_rows(task, args))
    with tempfile.TemporaryDirectory() as out:
        common = dict(output_dir=out, max_steps=args.steps, per_device_train_batch_size=args.batch, learning_rate=2e-5,
                      logging_steps=args.steps, save_strategy="no", report_to="none", seed=0,
                      dataloader_pin_memory=False, optim=args.optim)
        if task["name"] == "embed":
            model = SentenceTransformer(str(minilm_path()), device="cpu")
            model.max_seq_length = args.max_len
            trainer = SentenceTransformerTrainer(model=model, args=SentenceTransformerTrainingArguments(**common),
                                                 train_dataset=data, loss=MultipleNegativesRankingLoss(model, scale=20.0))
        else:
            model = CrossEncoder(str(minilm_path()), num_labels=1, max_length=args.max_len, device="cpu")
            trainer = CrossEncoderTrainer(model=model, args=CrossEncoderTrainingArguments(**common),
                                          train_dataset=data, loss=BinaryCrossEntropyLoss(model))
        runtime = trainer.train().metrics["train_runtime"]
    return args.steps * args.batch / runtime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--optim", default="adamw_torch_fused", help="transformers optimizer name, both sides")
    args = ap.parse_args()
    cases = {"embed (InfoNCE, 1 hard neg)": {"name": "embed", "hard_negatives": 1, "pooling": "mean"},
             "rerank (pointwise BCE)": {"name": "rerank", "loss": "pointwise"}}
    results = []
    for label, task in cases.items():
        st, ours = [], []
        for _ in range(args.repeats):
            st.append(run_st(task, args))
            ours.append(run_mgtrainer(task, args))
        results.append((label, max(ours), max(st)))
    print(f"\nall-MiniLM-L6-v2, batch {args.batch}, max_len {args.max_len}, {args.steps} steps, "
          f"{args.optim}, best of {args.repeats}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print("| task | mgtrainer samples/s | sentence-transformers samples/s | ratio |\n|---|---|---|---|")
    for label, ours, st in results:
        print(f"| {label} | {ours:.1f} | {st:.1f} | {ours / st:.2f} |")


if __name__ == "__main__":
    main()
