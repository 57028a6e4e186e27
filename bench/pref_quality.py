"""Quality acceptance of the preference tasks on real public data with a tiny local model (no hub):

  dpo on LLaMA-Factory's dpo_en_demo.json and on orca_dpo_pairs_validation.jsonl (a held-out val_size split
  each): held-out reward accuracy should rise above 0.5 and the margin grow;
  kto on kto_en_demo.json (held-out split): the loss falls and desirable/undesirable rewards separate;
  orpo and simpo on dpo_en_demo.json (reference-free: their step-0 rewards are the random model's own).

Before = the eval at step 0 (eval_on_start: policy == reference, so dpo/kto rewards and margins are 0 and
dpo's accuracy, which counts chosen > rejected strictly, is 0 by construction: every pair is a tie), after =
the last eval. Beside each run: the held-out pairs, the accuracy of "the longer answer is the chosen one" on
the same pairs (a baseline a model could reach by learning length alone), wall and CPU seconds.

    python bench/pref_quality.py [--steps 60] [--only NAME] [--shared ../shared/data] [--out /tmp/pref_quality]
"""

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

RUNS = {  # name: (task, file, val_size, overrides)
    "dpo / dpo_en_demo": ("dpo", "llama-factory/dpo_en_demo.json", 60, []),
    "dpo / orca_dpo_pairs": ("dpo", "microsoft-foundry/orca_dpo_pairs_validation.jsonl", 64, []),
    "kto / kto_en_demo": ("kto", "llama-factory/kto_en_demo.json", 60, []),
    "orpo / dpo_en_demo": ("orpo", "llama-factory/dpo_en_demo.json", 60, []),
    "simpo / dpo_en_demo": ("orpo", "llama-factory/dpo_en_demo.json", 60, ["task.loss=simpo", "task.beta=2.0"]),
}
SHOWN = ("eval_loss", "eval_rewards/accuracies", "eval_rewards/margins", "eval_rewards/chosen",
         "eval_rewards/rejected", "eval_kl", "eval_kl/chosen", "eval_nll/chosen")


def _text(messages) -> str:
    return " ".join(str(getattr(m, "content", "") or "") for m in messages or [])


def length_baseline(cfg) -> tuple[int, float | None]:
    """(held-out rows, share of held-out pairs whose chosen answer is the longer one; None for kto)."""
    from mgtrainer.app.runs import record_kind
    from mgtrainer.data.loaders import load_splits

    evals = load_splits(cfg.data, record_kind(cfg.task.name)).eval
    if not evals or getattr(evals[0], "chosen", None) is None:
        return len(evals), None
    wins = sum(len(_text(r.chosen)) > len(_text(r.rejected)) for r in evals)
    return len(evals), wins / len(evals)


def run(name, task, path, val_size, model, out, a, overrides):
    from mgtrainer.app import runs
    from mgtrainer.config import load_config

    folder = out / name.replace(" / ", "_")
    shutil.rmtree(folder, ignore_errors=True)
    cfg = load_config({
        "task": task, "model": str(model),
        "data": {"train": [str(path)], "val_size": val_size, "cutoff_len": a.cutoff, "seed": 1},
        "train": {"output_dir": str(folder), "max_steps": a.steps, "per_device_train_batch_size": a.batch,
                  "per_device_eval_batch_size": 16, "learning_rate": a.lr, "logging_steps": 10,
                  "eval_strategy": "steps", "eval_steps": a.steps // 2, "save_steps": 10_000, "preview_samples": 0,
                  "report_to": "none", "warmup_ratio": 0.1, "seed": 1},
        "lora": {"finetuning_type": a.tuning}}, [f"max_prompt_length={a.cutoff // 2}", *overrides])
    held_out, longer = length_baseline(cfg)
    t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    runs.train(cfg)
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    evals = sorted({r["step"]: r for r in rows if "eval_loss" in r and "step" in r}.items())
    by_step = [e for _, e in evals]
    picked = (by_step[0], by_step[len(by_step) // 2], by_step[-1])
    steps = tuple(s for s, _ in (evals[0], evals[len(evals) // 2], evals[-1]))
    return picked, steps, {"held_out": held_out, "longer": longer, "wall": time.perf_counter() - t0, "cpu": cpu}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--cutoff", type=int, default=128)
    ap.add_argument("--tuning", default="full", choices=("full", "lora"))
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
    ap.add_argument("--out", default="/tmp/pref_quality")
    ap.add_argument("--only", action="append", help="run name(s) (e.g. 'kto / kto_en_demo'); default all")
    a = ap.parse_args()
    from mgtrainer.driver.tiny import make_tiny_model

    out = Path(a.out)
    model = out / "tiny-qwen2"
    if not (model / "config.json").exists():
        make_tiny_model(model, arch="qwen2")
    table, notes = [], []
    for name, (task, rel, val_size, over) in RUNS.items():
        if a.only and name not in a.only:
            continue
        evals, steps, info = run(name, task, Path(a.shared) / rel, val_size, model, out, a, over)
        for key in SHOWN:
            if any(key in e for e in evals):
                table.append((name, key, steps, *(e.get(key) for e in evals)))
        longer = "-" if info["longer"] is None else f"{info['longer']:.3f}"
        notes.append(f"| {name} | {info['held_out']} | {longer} | {info['wall']:.0f} | {info['cpu']:.0f} |")
    print(f"\n{a.steps} steps x {a.batch} rows, lr {a.lr}, cutoff_len {a.cutoff}, max_prompt_length {a.cutoff // 2}, "
          f"tiny qwen2 (random init, {a.tuning} tuning), CPU\n")
    print("| run | metric | before (step 0) | middle | after |\n|---|---|---|---|---|")
    for name, key, steps, *vals in table:
        cells = " | ".join("" if v is None else f"{v:.4f} (step {s})" if i else f"{v:.4f}"
                           for i, (s, v) in enumerate(zip(steps, vals)))
        print(f"| {name} | {key} | {cells} |")
    print("\n| run | held-out rows | 'longer answer wins' accuracy | wall s | CPU s |\n|---|---|---|---|---|")
    print("\n".join(notes), flush=True)


if __name__ == "__main__":
    main()
