"""SFT throughput: non-padding tokens/s, mgtrainer vs TRL's SFTTrainer (default settings), same run.

    python bench/sft_throughput.py [--rows 256] [--cutoff 512] [--max-tokens 4096]

Data: ../shared/data/llama-factory/alpaca_en_demo.json (read in place). Model: a tiny random Qwen2-style
LM built here (mgtrainer.driver.tiny). Both trainers do one epoch over the same rows on this machine.
mgtrainer batches rows of similar length under a token budget (train.max_tokens_per_batch); TRL pads
random batches of 8 to their longest row. Also checked: the mean per-token loss of one model over the
same rows is the same with mgtrainer's batches as with padded batches (padding must not change the loss).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
DATA = REPO / ".." / "shared" / "data" / "llama-factory" / "alpaca_en_demo.json"


def records(n: int):
    from mgtrainer.data import iter_records

    return [r for _, r in zip(range(n), iter_records(DATA, kind="chat"))]


def run_mgtrainer(model_dir, recs, tmp, cutoff, max_tokens):
    from mgtrainer.config import load_config
    from mgtrainer.driver import collate, model as dm, trainer as dt
    from mgtrainer.driver.tokenize import encode_chats

    cfg = load_config({"task": "sft", "model": {"name_or_path": str(model_dir)},
                       "data": {"train": [str(DATA)], "cutoff_len": cutoff},
                       "train": {"output_dir": str(tmp / "mgt"), "num_train_epochs": 1, "logging_steps": 10,
                                 "save_strategy": "no", "max_tokens_per_batch": max_tokens, "learning_rate": 2e-5},
                       "lora": {"finetuning_type": "full"}})
    tok = dm.load_tokenizer(cfg.model)
    rows = encode_chats(tok, recs, cutoff).rows
    trainer = dt.build_trainer(cfg, dm.load_model(cfg.model, "causal_lm", tok), tok, rows, None,
                               collate.collator(tok, "causal_lm"))
    start = time.perf_counter()
    out = trainer.train()
    return sum(len(r["input_ids"]) for r in rows), time.perf_counter() - start, out.training_loss, rows


def run_trl(model_dir, recs, tmp, cutoff):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from mgtrainer.driver.tokenize import message_dicts

    tok = AutoTokenizer.from_pretrained(model_dir)
    ds = Dataset.from_list([{"messages": message_dicts(r.messages)} for r in recs])
    args = SFTConfig(output_dir=str(tmp / "trl"), num_train_epochs=1, max_length=cutoff, save_strategy="no",
                     report_to="none", logging_steps=10, use_cpu=True, bf16=False)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), args=args, train_dataset=ds,
                         processing_class=tok)
    tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
    start = time.perf_counter()
    out = trainer.train()
    return tokens, time.perf_counter() - start, out.training_loss


def per_token_loss(model_dir, rows, batches, model=None) -> float:
    """Mean per-token loss over `batches` (lists of row indices), padded; `model` (default: model_dir's) in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mgtrainer.driver.collate import collator

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = (model or AutoModelForCausalLM.from_pretrained(model_dir)).eval()
    collate = collator(tok, "causal_lm")
    total = count = 0
    for batch in batches:
        enc = collate([rows[i] for i in batch])
        with torch.no_grad():
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        labels = enc["labels"][:, 1:]
        total += torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels.flatten(),
                                                   ignore_index=-100, reduction="sum").item()
        count += (labels != -100).sum().item()
    return total / count


def main() -> None:
    from mgtrainer.driver.collate import TokenBudgetSampler
    from mgtrainer.driver.tiny import make_tiny_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--cutoff", type=int, default=512)
    ap.add_argument("--max-tokens", type=int, default=4096)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = make_tiny_model(tmp / "tiny", arch="qwen2")
        recs = records(args.rows)
        mg_tok, mg_s, mg_loss, rows = run_mgtrainer(model_dir, recs, tmp, args.cutoff, args.max_tokens)
        trl_tok, trl_s, trl_loss = run_trl(model_dir, recs, tmp, args.cutoff)
        padded = per_token_loss(model_dir, rows, [list(range(i, min(i + 8, len(rows)))) for i in range(0, len(rows), 8)])
        budget = per_token_loss(model_dir, rows, list(TokenBudgetSampler([len(r["input_ids"]) for r in rows],
                                                                         args.max_tokens, seed=0)))
    print(f"\nSFT throughput, {len(recs)} alpaca_en_demo rows, tiny Qwen2 (hidden 128, 2 layers), 1 epoch, CPU")
    print("| trainer | non-padding tokens | seconds | tokens/s | train loss |\n|---|---|---|---|---|")
    print(f"| TRL SFTTrainer (defaults: batch 8, padded) | {trl_tok} | {trl_s:.1f} | {trl_tok / trl_s:.0f} | {trl_loss:.4f} |")
    print(f"| mgtrainer (token budget {args.max_tokens}) | {mg_tok} | {mg_s:.1f} | {mg_tok / mg_s:.0f} | {mg_loss:.4f} |")
    print(f"\nratio mgtrainer / TRL tokens/s: {(mg_tok / mg_s) / (trl_tok / trl_s):.2f}x")
    print(f"per-token loss, same model and rows: padded batches {padded:.5f}, mgtrainer batches {budget:.5f} "
          f"(diff {100 * abs(budget - padded) / padded:.4f}%)")


if __name__ == "__main__":
    main()
