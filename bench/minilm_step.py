"""Where a MiniLM classify step's CPU goes, and what the order of length-grouped batches costs.

    mgt_env run train -- python bench/minilm_step.py [--profile-steps 6] [--epochs-rounds 2]

1. torch.profiler over a few optimizer steps (batch 16, SNIPS rows): the ops by self CPU time.
2. One epoch over the same length-grouped batches (driver/collate.GroupedSampler, batch 32, all 2100 SNIPS
   train rows) in mgtrainer's shuffled order and longest-first (transformers' LengthGroupedSampler runs each
   window that way), rounds interleaved: user and sys CPU seconds and minor page faults of each.
A plain loop (forward, backward, fused AdamW), no Trainer, so only the step itself is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SNIPS = REPO / ".." / "shared" / "data" / "snips" / "snips_intent_train.jsonl"


def model_and_optimizer():
    import torch
    from transformers import AutoModelForSequenceClassification

    from mgtrainer.driver.model import minilm_path

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(minilm_path(), num_labels=7)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)


def step(model, opt, ids: list[list[int]]) -> None:
    import torch

    n = max(map(len, ids))
    x = torch.tensor([row + [0] * (n - len(row)) for row in ids])
    loss = model(input_ids=x, attention_mask=(x != 0).long(), labels=torch.zeros(len(ids), dtype=torch.long)).loss
    loss.backward()
    opt.step()
    opt.zero_grad()


def main() -> None:
    from torch.profiler import ProfilerActivity, profile
    from transformers import AutoTokenizer

    from mgtrainer.driver.collate import GroupedSampler
    from mgtrainer.driver.model import minilm_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile-steps", type=int, default=6)
    ap.add_argument("--epochs-rounds", type=int, default=2)
    args = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(minilm_path())
    enc = [tok(json.loads(line)["text"], truncation=True, max_length=64)["input_ids"] for line in SNIPS.open()]

    model, opt = model_and_optimizer()
    batches = [enc[k : k + 16] for k in range(0, 16 * (args.profile_steps + 3), 16)]
    for ids in batches[:3]:  # warm-up
        step(model, opt, ids)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for ids in batches[3:]:
            step(model, opt, ids)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))

    lengths = [len(e) for e in enc]
    shuffled = list(GroupedSampler(lengths, 32, seed=0))
    longest_first = sorted(shuffled, key=lambda b: -max(lengths[i] for i in b))
    print("| round | order | user CPU-s | sys CPU-s | minor faults |\n|---|---|---|---|---|")
    for r in range(args.epochs_rounds):
        for name, order in (("shuffled (mgtrainer)", shuffled), ("longest first", longest_first)):
            model, opt = model_and_optimizer()
            before = resource.getrusage(resource.RUSAGE_SELF)
            for batch in order:
                step(model, opt, [enc[i] for i in batch])
            after = resource.getrusage(resource.RUSAGE_SELF)
            print(f"| {r} | {name} | {after.ru_utime - before.ru_utime:.1f} | {after.ru_stime - before.ru_stime:.1f} "
                  f"| {after.ru_minflt - before.ru_minflt} |", flush=True)


if __name__ == "__main__":
    main()
