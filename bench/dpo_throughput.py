"""DPO throughput: mgtrainer dpo vs TRL's DPOTrainer, interleaved in one run, tokens/s and CPU seconds per token.

    python bench/dpo_throughput.py [--rounds 3] [--steps 8] [--batch 4] [--cutoff 256]

Same tiny random Qwen2-style model (built here), same first steps x batch rows of
../shared/data/llama-factory/dpo_en_demo.json, same batch size, steps, learning rate and LoRA (rank 8, alpha 16,
all-linear), CPU. Tools, one process per (tool, round), run A, B, C, A, B, C, ... so load drifts hit all alike:

  mgtrainer    `mgtrainer train` with task dpo (its tokenisation, defaults: no gradient checkpointing, fp32 on CPU)
  trl          DPOTrainer(model, DPOConfig(defaults + the same batch/steps/lr/max_length), peft_config=LoraConfig)
               on the rows as conversational prompt/chosen/rejected; TRL's defaults include gradient checkpointing
               and bf16 autocast
  trl-matched  the same with gradient_checkpointing=False, bf16=False (what mgtrainer runs), to show where a
               difference comes from

Measured per run: train tokens (TRL's num_tokens: non-pad chosen + rejected tokens) of steps 2..N over their wall
time and CPU time (process CPU, all threads, between the ends of step 1 and step N: the first step's warm-up and
the fixed costs before and after the loop are left out), the whole process's wall and
CPU time (load, tokenise, train, save), peak RSS (ru_maxrss), and the first and last step losses (the first step
must be equal: policy == reference gives ln 2). Prints markdown tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
DATA = REPO / ".." / "shared" / "data" / "llama-factory" / "dpo_en_demo.json"
TOOLS = ("mgtrainer", "trl", "trl-matched")


def loop_timer():
    """A TrainerCallback that records (wall, process CPU) seconds at the end of every optimizer step."""
    from transformers import TrainerCallback

    class LoopTimer(TrainerCallback):
        def __init__(self):
            self.marks = []

        def on_step_end(self, args, state, control, **kwargs):
            self.marks.append((time.perf_counter(), time.process_time()))

    return LoopTimer()


def run_mgtrainer(model: str, out: str, a, timer) -> list[dict]:
    from mgtrainer.app import runs
    from mgtrainer.config import load_config
    from mgtrainer.driver import trainer as dt

    build = dt.build_trainer

    def with_timer(*args, **kwargs):
        trainer = build(*args, **kwargs)
        trainer.add_callback(timer)
        return trainer

    dt.build_trainer = with_timer
    cfg = load_config({"task": "dpo", "model": model,
                       "data": {"train": [str(DATA)], "max_samples": a.steps * a.batch, "cutoff_len": a.cutoff},
                       "train": {"output_dir": out, "max_steps": a.steps, "per_device_train_batch_size": a.batch,
                                 "learning_rate": 5e-5, "logging_steps": 1, "save_steps": 10_000,
                                 "preview_samples": 0, "report_to": "none"},
                       "lora": {"finetuning_type": "lora", "rank": 8, "alpha": 16, "target": "all-linear"}})
    runs.train(cfg)
    return [json.loads(x) for x in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def run_trl(model: str, out: str, a, timer, matched: bool) -> list[dict]:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from mgtrainer.data import iter_records
    from mgtrainer.driver.tokenize import message_dicts

    recs = [r for _, r in zip(range(a.steps * a.batch), iter_records(DATA, kind="preference"))]
    ds = Dataset.from_list([{"prompt": message_dicts(r.messages), "chosen": message_dicts(r.chosen),
                             "rejected": message_dicts(r.rejected)} for r in recs])
    same = {"gradient_checkpointing": False, "bf16": False} if matched else {}
    args = DPOConfig(output_dir=out, max_steps=a.steps, per_device_train_batch_size=a.batch, learning_rate=5e-5,
                     logging_steps=1, save_strategy="no", report_to="none", max_length=a.cutoff, use_cpu=True, **same)
    trainer = DPOTrainer(AutoModelForCausalLM.from_pretrained(model), args=args, train_dataset=ds,
                         processing_class=AutoTokenizer.from_pretrained(model), callbacks=[timer],
                         peft_config=LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"))
    trainer.train()
    return trainer.state.log_history


def one(tool: str, model: str, out: str, a) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    timer = loop_timer()
    log = run_mgtrainer(model, out, a, timer) if tool == "mgtrainer" else run_trl(model, out, a, timer,
                                                                                     tool == "trl-matched")
    steps = [r for r in log if "loss" in r and "num_tokens" in r]
    (w0, c0_), (w1, c1) = timer.marks[0], timer.marks[-1]  # steps 2..N: the first step's warm-up left out
    return {"tokens": steps[-1]["num_tokens"] - steps[0]["num_tokens"], "loop_wall": w1 - w0, "loop_cpu": c1 - c0_,
            "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
            "first_loss": steps[0]["loss"], "last_loss": steps[-1]["loss"],
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--cutoff", type=int, default=256)
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {', '.join(TOOLS)}")
    ap.add_argument("--one", nargs=3, metavar=("TOOL", "MODEL", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print("RESULT " + json.dumps(one(*a.one, a)))
        return
    from mgtrainer.driver.tiny import make_tiny_model

    tools = a.tools.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="dpo_bench_"))
    model = make_tiny_model(tmp / "tiny", arch="qwen2")
    results: dict[str, list[dict]] = {t: [] for t in tools}
    for r in range(a.rounds):
        for tool in tools:
            cmd = [sys.executable, __file__, "--steps", str(a.steps), "--batch", str(a.batch), "--cutoff",
                   str(a.cutoff), "--one", tool, str(model), str(tmp / f"{tool}-{r}")]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{tool} round {r} failed:\n{proc.stderr[-3000:]}")
            results[tool].append(json.loads(proc.stdout.split("RESULT ", 1)[1]))
            print(f"round {r} {tool}: {results[tool][-1]}", file=sys.stderr, flush=True)
    print(f"\n{a.steps} steps x {a.batch} pairs of dpo_en_demo.json, cutoff_len {a.cutoff}, LoRA r8 all-linear, "
          f"tiny qwen2 (random init), CPU, {a.rounds} interleaved rounds\n")
    print("| tool | round | tokens (steps 2..N) | loop wall s | tokens/s | loop CPU s | CPU ms/token | process wall s | "
          "process CPU s | peak RSS MiB | first-step loss | last-step loss |\n" + "|---" * 12 + "|")
    for tool, rs in results.items():
        for i, x in enumerate(rs):
            print(f"| {tool} | {i} | {x['tokens']:.0f} | {x['loop_wall']:.1f} | {x['tokens'] / x['loop_wall']:.0f} | "
                  f"{x['loop_cpu']:.1f} | {1000 * x['loop_cpu'] / x['tokens']:.2f} | {x['wall']:.1f} | {x['cpu']:.1f} | "
                  f"{x['peak_mib']:.0f} | {x['first_loss']:.4f} | {x['last_loss']:.4f} |")
    base = results.get("trl")
    print("\n| tool | median tokens/s | median CPU ms/token | vs trl tokens/s | vs trl CPU/token | max peak RSS MiB | "
          "first-step loss equal to trl |\n|---|---|---|---|---|---|---|")
    med = {t: (statistics.median(x["tokens"] / x["loop_wall"] for x in rs),
               statistics.median(1000 * x["loop_cpu"] / x["tokens"] for x in rs)) for t, rs in results.items()}
    for tool, rs in results.items():
        tps, cpt = med[tool]
        vs = (f"{tps / med['trl'][0]:.2f}x", f"{cpt / med['trl'][1]:.2f}x") if base else ("-", "-")
        equal = "-" if not base else "yes" if all(abs(x["first_loss"] - base[0]["first_loss"]) < 1e-4 for x in rs) else "NO"
        print(f"| {tool} | {tps:.0f} | {cpt:.2f} | {vs[0]} | {vs[1]} | {max(x['peak_mib'] for x in rs):.0f} | {equal} |")


if __name__ == "__main__":
    main()
