"""The causal loss with logits only at trained positions (driver/kept_logits.py) vs the model's own loss,
on SmolLM2-135M-Instruct LoRA sft steps over the dates rows: CPU-s per step and peak RSS, interleaved.

    mgt env run train -- python bench/kept_logits.py [--steps 6] [--batch 16] [--rounds 3]

Each (variant, round) runs in its own process (its peak RSS is its own); a step = forward + backward +
AdamW step on one batch of `--batch` rows. Prints a markdown table of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROWS = REPO / "script" / "examples" / "real" / "data" / "dates_sft.jsonl"


def child(variant: str, steps: int, batch: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mgtrainer.data.loaders import iter_records
    from mgtrainer.driver.collate import collator
    from mgtrainer.driver.kept_logits import kept_logits_loss
    from mgtrainer.driver.model import resolve_model
    from mgtrainer.driver.tokenize import encode_chats

    path = resolve_model("smollm2-135m-instruct")
    tok = AutoTokenizer.from_pretrained(path)
    rows = encode_chats(tok, list(iter_records(ROWS, kind="chat"))[: steps * batch], 128).rows
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32),
                           LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    collate = collator(tok, "causal_lm")
    cpu = []
    for i in range(steps):
        inputs = collate(rows[i * batch:(i + 1) * batch])
        n = int((inputs["labels"][:, 1:] != -100).sum())
        t0 = time.process_time()
        loss = kept_logits_loss(model, inputs, n) if variant == "kept" else model(**inputs, num_items_in_batch=n).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        cpu.append(time.process_time() - t0)
    return {"cpu_step": statistics.median(cpu[1:]), "loss": loss.item(),
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.steps, a.batch)))
        return
    results = {"own": [], "kept": []}
    for _ in range(a.rounds):
        for variant in results:  # interleaved
            out = subprocess.run([sys.executable, __file__, "--child", variant, "--steps", str(a.steps),
                                  "--batch", str(a.batch)], capture_output=True, text=True, check=True,
                                 env={**os.environ, "PYTHONPATH": str(REPO)})
            results[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = statistics.median(r["cpu_step"] for r in results["own"])
    print(f"SmolLM2-135M-Instruct, LoRA r16 all-linear, {a.batch} dates rows a step, {a.steps} steps, "
          f"{a.rounds} rounds interleaved (medians)\n")
    print("| loss | CPU-s / step | vs model's own | peak RSS MiB | last loss |\n|---|---|---|---|---|")
    for variant, rs in results.items():
        cpu = statistics.median(r["cpu_step"] for r in rs)
        print(f"| {variant} | {cpu:.2f} | {base / cpu:.2f}x | {statistics.median(r['rss_mib'] for r in rs):.0f} | "
              f"{rs[-1]['loss']:.4f} |")


if __name__ == "__main__":
    main()
