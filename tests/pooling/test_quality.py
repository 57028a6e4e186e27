"""Quality on real data (heavy): fine-tuned MiniLM beats the untuned model on held-out rows.

rerank and embed: WikiQA dev (../shared, grouped per query), 30% of the queries held out, NDCG@10.
rm: the dates pairs of the real-model examples (right date in words vs a plausible wrong one), 100 held-out
pairs, pairwise accuracy from chance to above 0.6. MiniLM rather than a tiny random decoder: its pretrained
text representations tell month names and numbers apart, which a random-weight model cannot.
"""

from pathlib import Path

import pytest

from mgtrainer.app import runs
from mgtrainer.config import load_config

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
WIKIQA = SHARED / "wikiqa" / "wikiqa_dev_rerank.jsonl"
DATES = Path(__file__).resolve().parents[2] / "script" / "examples" / "real" / "data"

pytestmark = pytest.mark.heavy


def before_after(minilm, tmp_path, task: dict, data: dict, train: dict) -> tuple[dict, dict]:
    cfg = load_config({
        "task": task, "model": {"name_or_path": str(minilm)}, "data": data,
        "train": {"output_dir": str(tmp_path / "out"), "num_train_epochs": 1, "per_device_train_batch_size": 8,
                  "per_device_eval_batch_size": 64, "logging_steps": 5, "save_strategy": "no", **train},
        "lora": {"finetuning_type": "full"},
    }, [])
    before, after = runs.evaluate(cfg, model_dir=minilm), runs.train(cfg)
    keys = [k for k in before if k != "eval_loss"]
    print(f"\n{task['name']}: untuned vs fine-tuned MiniLM on held-out rows\n| metric | before | after |\n|---|---|---|")
    for k in keys:
        print(f"| {k.removeprefix('eval_')} | {before[k]:.4f} | {after[k]:.4f} |")
    return before, after


def test_rerank_beats_its_zeroshot_bi_encoder_on_wikiqa(minilm, tmp_path):
    """Issue 18's goal on held-out queries: the trained cross-encoder ranks better than the untrained MiniLM
    used as a bi-encoder (eval_zeroshot_*, measured in the same run). references/pooling.md: lr 1e-4 x 2
    epochs, measured 0.7568 vs 0.7207 (train.seed 42); at the global default lr 5e-5 it ends below (0.6455)."""
    before, after = before_after(minilm, tmp_path, {"name": "rerank", "loss": "listwise", "group_size": 4},
                                 {"train": [str(WIKIQA)], "val_size": 0.3, "cutoff_len": 96, "seed": 0},
                                 {"learning_rate": 1e-4, "num_train_epochs": 2})
    assert after["eval_ndcg@10"] > before["eval_ndcg@10"]
    assert after["eval_ndcg@10"] > after["eval_zeroshot_ndcg@10"]


def test_embed_raises_ndcg_on_wikiqa(minilm, tmp_path):
    before, after = before_after(minilm, tmp_path, {"name": "embed", "hard_negatives": 3},
                                 {"train": [str(WIKIQA)], "val_size": 0.3, "cutoff_len": 96}, {"learning_rate": 3e-5})
    assert after["eval_ndcg@10"] > before["eval_ndcg@10"]


def test_rm_learns_held_out_date_pairs(minilm, tmp_path):
    """rm on the dates pairs (script/examples/real/data: the right date in words vs a plausible wrong one; 100
    held-out pairs whose dates and two of whose phrasings are never trained on), MiniLM full fine-tuning at the
    settings of script/examples/real/rm_dates_minilm.yaml (bench/real_pooling.py measured 0.76 after 1 epoch).
    LLaMA-Factory's dpo_en_demo, used here before, moved pair accuracy from 0.52 to 0.58 on 60 pairs for 2-3
    minutes of CPU: too little to tell from chance at that cost."""
    before, after = before_after(minilm, tmp_path, {"name": "rm"},
                                 {"train": [str(DATES / "dates_dpo.jsonl")],
                                  "eval": [str(DATES / "dates_dpo_heldout.jsonl")], "cutoff_len": 64},
                                 {"learning_rate": 1e-4, "seed": 0})
    assert before["eval_accuracy"] < 0.6 < after["eval_accuracy"]
