"""bench/gpu/run.sh's table: mgtrainer (plain, FSDP, ZeRO-3) and TRL's SFTTrainer, 1 GPU, bf16, same rows.

    python bench/gpu/compare.py WORK   (WORK holds model/ and sft.jsonl; run.sh makes them)
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

STEPS, BATCH, CUTOFF = 40, 8, 512


def peak_gpu_mib(proc: subprocess.Popen) -> int:
    """Highest nvidia-smi memory.used while proc runs (MiB)."""
    peak = 0
    while proc.poll() is None:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True).stdout.split()
        peak = max([peak, *map(int, out[:1])])
        time.sleep(0.5)
    return peak


def mgtrainer(work: Path, name: str, extra: dict) -> tuple[float, int]:
    cfg = work / f"{name}.yaml"
    out = work / name
    cfg.write_text(json.dumps({
        "task": "sft", "model": {"name_or_path": str(work / "model")},
        "data": {"train": [str(work / "sft.jsonl")], "cutoff_len": CUTOFF},
        "train": {"output_dir": str(out), "max_steps": STEPS, "per_device_train_batch_size": BATCH, "bf16": True,
                  "logging_steps": 10, "preview_samples": 0, "save_steps": 10_000, **extra},
        "lora": {"finetuning_type": "full"}, "eval": {"generation_samples": 0}}))
    proc = subprocess.Popen([sys.executable, "-m", "mgtrainer", "train", str(cfg), "--nproc-per-node", "1"])
    peak = peak_gpu_mib(proc)
    if proc.returncode:
        sys.exit(f"bench/gpu: mgtrainer {name} failed (exit {proc.returncode})")
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return next(r["train_runtime"] for r in rows if "train_runtime" in r), peak


def trl(work: Path) -> tuple[float, int]:
    code = f"""
import torch
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer
ds = load_dataset("json", data_files="{work / 'sft.jsonl'}", split="train")
ds = ds.map(lambda r: {{"prompt": r["instruction"], "completion": r["output"]}}, remove_columns=ds.column_names)
tok = AutoTokenizer.from_pretrained("{work / 'model'}")
model = AutoModelForCausalLM.from_pretrained("{work / 'model'}")
args = SFTConfig(output_dir="{work / 'trl'}", max_steps={STEPS}, per_device_train_batch_size={BATCH}, bf16=True,
                 max_length={CUTOFF}, report_to="none", save_strategy="no", logging_steps=10)
print("RUNTIME", SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok).train().metrics["train_runtime"])
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    holder = {}
    reader = threading.Thread(target=lambda: holder.update(out=proc.stdout.read()))
    reader.start()
    peak = peak_gpu_mib(proc)
    reader.join()
    if proc.returncode:
        sys.exit(f"bench/gpu: TRL SFTTrainer failed (exit {proc.returncode})")
    return float(holder["out"].split("RUNTIME")[-1]), peak


def mean_tokens(work: Path) -> float:
    """Mean tokens of a row rendered with the model's chat template (tokens/s = rows/s x this)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(work / "model")
    rows = [json.loads(x) for x in (work / "sft.jsonl").read_text().splitlines()[:1000]]
    lengths = [len(tok.apply_chat_template([{"role": "user", "content": r["instruction"]},
                                            {"role": "assistant", "content": r["output"]}], tokenize=True))
               for r in rows]
    return sum(lengths) / len(lengths)


def main() -> None:
    work = Path(sys.argv[1])
    per_row = mean_tokens(work)
    results = {"TRL SFTTrainer": trl(work)}
    for name, extra in (("plain", {}), ("fsdp", {"fsdp": "full_shard auto_wrap", "fsdp_config": {"version": 2}}),
                        ("zero3", {"deepspeed": "zero3"})):
        results[f"mgtrainer {name}"] = mgtrainer(work, name, extra)
    rows = STEPS * BATCH  # the same rows (short ones: under CUTOFF tokens) for every trainer
    print(f"| 1 GPU, bf16, {STEPS} steps x {BATCH} rows (~{per_row:.0f} tokens each) | seconds | tokens/s | "
          "peak GPU MiB |\n|---|---|---|---|")
    for name, (secs, peak) in results.items():
        print(f"| {name} | {secs:.1f} | {rows * per_row / secs:.0f} | {peak} |")


if __name__ == "__main__":
    main()
