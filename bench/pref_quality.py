"""Quality acceptance of the preference tasks on real public data with a tiny local model (no hub):

  dpo on LLaMA-Factory's dpo_en_demo.json (held-out val_size split) and on orca_dpo_pairs_validation.jsonl
  (held-out split): held-out reward accuracy should rise above 0.5 and the margin grow;
  kto on kto_en_demo.json: the loss falls and desirable/undesirable rewards separate.

Before = the eval at step 0 (eval_on_start: policy == reference), after = the last eval.

    python bench/pref_quality.py [--steps 60] [--shared ../shared/data] [--out /tmp/pref_quality]
"""

import argparse
import json
import shutil
from pathlib import Path

RUNS = {  # name: (task, file, overrides)
    "dpo / dpo_en_demo": ("dpo", "llama-factory/dpo_en_demo.json", []),
    "dpo / orca_dpo_pairs": ("dpo", "microsoft-foundry/orca_dpo_pairs_validation.jsonl", []),
    "kto / kto_en_demo": ("kto", "llama-factory/kto_en_demo.json", []),
}
SHOWN = ("eval_loss", "eval_rewards/accuracies", "eval_rewards/margins", "eval_rewards/chosen",
         "eval_rewards/rejected", "eval_kl", "eval_kl/chosen")


def run(name, task, path, model, out, steps, overrides):
    from mgtrainer.app import runs
    from mgtrainer.config import load_config

    folder = out / name.replace(" / ", "_")
    shutil.rmtree(folder, ignore_errors=True)
    cfg = load_config({
        "task": task, "model": str(model),
        "data": {"train": [str(path)], "val_size": 32, "cutoff_len": 128, "seed": 1},
        "train": {"output_dir": str(folder), "max_steps": steps, "per_device_train_batch_size": 8,
                  "per_device_eval_batch_size": 16, "learning_rate": 2e-3, "logging_steps": 10,
                  "eval_strategy": "steps", "eval_steps": steps // 2, "save_steps": 10_000, "preview_samples": 0,
                  "report_to": "none", "warmup_ratio": 0.1},
        "lora": {"finetuning_type": "full"}}, ["max_prompt_length=64", *overrides])
    runs.train(cfg)
    evals = [r for r in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines()) if "eval_loss" in r]
    return evals[0], evals[len(evals) // 2 - 1], evals[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    ap.add_argument("--out", default="/tmp/pref_quality")
    ap.add_argument("--only", help="one run name (e.g. 'kto / kto_en_demo'), to run the three in parallel")
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    from mgtrainer.driver.tiny import make_tiny_model

    out = Path(args.out)
    model = out / "tiny-qwen2"
    if not (model / "config.json").exists():
        make_tiny_model(model, arch="qwen2")
    table = []
    for name, (task, rel, over) in RUNS.items():
        if args.only and name != args.only:
            continue
        evals = run(name, task, Path(args.shared) / rel, model, out, args.steps, over + [
            f"train.per_device_train_batch_size={args.batch}"])
        for key in SHOWN:
            if any(key in e for e in evals):
                table.append((name, key, *(e.get(key) for e in evals)))
    half = args.steps // 2
    print(f"\n| run ({args.steps} steps x {args.batch}, tiny qwen2, full tuning) | metric | before (step 0) | step {half} | "
          f"after (step {args.steps}) |\n|---|---|---|---|---|")
    for name, key, *vals in table:
        print(f"| {name} | {key} | " + " | ".join("" if v is None else f"{v:.4f}" for v in vals) + " |")
        print(flush=True)


if __name__ == "__main__":
    main()
