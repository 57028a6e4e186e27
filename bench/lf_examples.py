"""LLaMA-Factory's own example YAMLs, unchanged, trained by `mgtrainer train` (the native backend).

    python bench/lf_examples.py LF_CHECKOUT [--model MODEL] [--steps 2]

LF_CHECKOUT: a LLaMA-Factory source tree (git clone, or the `fetch` tool's mirror: its examples/ are read with
`git show`, so a bare mirror works too). Each example of EXAMPLES is written byte for byte into a scratch folder
laid out like LF's tree (examples/..., the deepspeed JSONs beside it), then trained from there with only what a
machine without the hub needs given as `key=value` overrides: model_name_or_path (a local model, default a tiny
qwen2 made here), dataset_dir (../shared/data/llama-factory, LF's demo data with its dataset_info.json), output_dir,
max_steps, and bf16=false on a machine without bf16. Prints one row per example: exit code, steps, last loss and
what mgtrainer said about the keys it ignored. Not a CI test: CI has no LF checkout (tests/config/test_config_load.py
loads a YAML written like them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "llama-factory"
EXAMPLES = ("examples/train_lora/qwen3_lora_sft.yaml", "examples/train_full/qwen3_full_sft.yaml",
            "examples/train_lora/qwen3_lora_dpo.yaml", "examples/train_lora/qwen3_lora_kto.yaml")


def show(checkout: Path, path: str) -> bytes:
    """A file of the checkout: from its work tree, else from git (a bare mirror)."""
    if (checkout / path).is_file():
        return (checkout / path).read_bytes()
    git_dir = checkout if (checkout / "HEAD").is_file() else checkout / ".git"
    return subprocess.run(["git", f"--git-dir={git_dir}", "show", f"HEAD:{path}"], capture_output=True,
                          check=True).stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkout", type=Path)
    ap.add_argument("--model", help="a local causal LM (default: a tiny qwen2 made here)")
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="lf-examples-"))
    model = args.model
    if model is None:
        model = str(scratch / "tiny-qwen2")
        subprocess.run([sys.executable, "-m", "mgtrainer", "model", "tiny", model, "--arch", "qwen2"], check=True,
                       capture_output=True)
    for name in ("ds_z0_config.json", "ds_z2_config.json", "ds_z3_config.json"):
        (scratch / "examples" / "deepspeed").mkdir(parents=True, exist_ok=True)
        (scratch / "examples" / "deepspeed" / name).write_bytes(show(args.checkout, f"examples/deepspeed/{name}"))
    print("| example (unchanged) | exit | steps | last loss | wall s | notes |\n|---|---|---|---|---|---|")
    failed = 0
    for example in EXAMPLES:
        target = scratch / example
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(show(args.checkout, example))
        out = scratch / "saves" / Path(example).stem
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "mgtrainer", "train", example, f"model_name_or_path={model}",
                               f"dataset_dir={SHARED}", f"output_dir={out}", f"max_steps={args.steps}", "bf16=false",
                               "logging_steps=1", "save_steps=1000"], cwd=scratch, capture_output=True, text=True)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()] \
            if (out / "metrics.jsonl").is_file() else []
        losses = [r["loss"] for r in rows if "loss" in r]
        notes = [ln.split("ignored ", 1)[1].split(" (")[0] for ln in proc.stderr.splitlines() if "ignored '" in ln]
        tail = "" if proc.returncode == 0 else proc.stderr.strip().splitlines()[-1][:200]
        print(f"| {example} | {proc.returncode} | {len(losses)} | {losses[-1] if losses else '-'} | "
              f"{time.monotonic() - start:.0f} | {', '.join(notes)}{tail} |")
        failed += proc.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
