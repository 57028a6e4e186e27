"""DPO throughput: tokens/s and peak memory of mgtrainer dpo vs TRL's DPOTrainer with its defaults, same run.

    python bench/dpo_throughput.py [--rounds 2] [--steps 8] [--batch 4] [--cutoff 256]

Same tiny random Qwen2-style model (built here), same rows of ../shared/data/llama-factory/dpo_en_demo.json,
same batch size, steps, learning rate and LoRA (rank 8, all-linear). mgtrainer: `mgtrainer train` (its own
tokenisation, max_prompt_length, metrics.jsonl, report). TRL: DPOTrainer(model, args=DPOConfig(defaults + the
same batch/steps/lr/max_length), peft_config=LoraConfig) on the same rows as conversational prompt/chosen/rejected.
Each (tool, round) runs in its own process, interleaved, so peak memory (ru_maxrss) is per run.
tokens/s = TRL's logged num_tokens (non-pad chosen+rejected tokens) / train_runtime. LLaMA-Factory's dpo stage
is not measured (its env pins another transformers/TRL). Prints a markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
DATA = REPO / ".." / "shared" / "data" / "llama-factory" / "dpo_en_demo.json"


def one(tool: str, model: str, out: str, a) -> dict:
    rows = a.steps * a.batch
    if tool == "mgtrainer":
        from mgtrainer.app import runs
        from mgtrainer.config import load_config

        cfg = load_config({"task": "dpo", "model": model,
                           "data": {"train": [str(DATA)], "max_samples": rows, "cutoff_len": a.cutoff},
                           "train": {"output_dir": out, "max_steps": a.steps, "per_device_train_batch_size": a.batch,
                                     "learning_rate": 5e-5, "logging_steps": 1, "save_steps": 10_000,
                                     "preview_samples": 0, "report_to": "none"},
                           "lora": {"finetuning_type": "lora", "rank": 8, "alpha": 16, "target": "all-linear"}})
        runs.train(cfg)
        log = [json.loads(x) for x in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    else:
        from datasets import Dataset
        from peft import LoraConfig
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from trl import DPOConfig, DPOTrainer

        from mgtrainer.data import iter_records
        from mgtrainer.driver.tokenize import message_dicts

        recs = [r for _, r in zip(range(rows), iter_records(DATA, kind="preference"))]
        ds = Dataset.from_list([{"prompt": message_dicts(r.messages), "chosen": message_dicts(r.chosen),
                                 "rejected": message_dicts(r.rejected)} for r in recs])
        args = DPOConfig(output_dir=out, max_steps=a.steps, per_device_train_batch_size=a.batch, learning_rate=5e-5,
                         logging_steps=1, save_strategy="no", report_to="none", max_length=a.cutoff, use_cpu=True)
        trainer = DPOTrainer(AutoModelForCausalLM.from_pretrained(model), args=args, train_dataset=ds,
                             processing_class=AutoTokenizer.from_pretrained(model),
                             peft_config=LoraConfig(r=8, lora_alpha=16, target_modules="all-linear",
                                                    task_type="CAUSAL_LM"))
        trainer.train()
        log = trainer.state.log_history
    steps = [r for r in log if "loss" in r and "num_tokens" in r]
    end = next(r for r in log if "train_runtime" in r)
    return {"tokens": steps[-1]["num_tokens"], "runtime": end["train_runtime"], "first_loss": steps[0]["loss"],
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--cutoff", type=int, default=256)
    ap.add_argument("--one", nargs=3, metavar=("TOOL", "MODEL", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print("RESULT " + json.dumps(one(*a.one, a)))
        return
    from mgtrainer.driver.tiny import make_tiny_model

    tmp = Path(tempfile.mkdtemp(prefix="dpo_bench_"))
    model = make_tiny_model(tmp / "tiny", arch="qwen2")
    results: dict[str, list[dict]] = {"mgtrainer": [], "trl": []}
    for r in range(a.rounds):
        for tool in ("mgtrainer", "trl"):
            cmd = [sys.executable, __file__, "--steps", str(a.steps), "--batch", str(a.batch), "--cutoff",
                   str(a.cutoff), "--one", tool, str(model), str(tmp / f"{tool}-{r}")]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            results[tool].append(json.loads(out.split("RESULT ", 1)[1]))
    print(f"\n| tool | tokens/s (per round) | mean tokens/s | peak RSS MiB | first-step loss |  "
          f"\n|---|---|---|---|---|")
    for tool, rs in results.items():
        tps = [x["tokens"] / x["runtime"] for x in rs]
        print(f"| {tool} | {', '.join(f'{t:.0f}' for t in tps)} | {sum(tps) / len(tps):.0f} | "
              f"{max(x['peak_mib'] for x in rs):.0f} | {rs[0]['first_loss']:.4f} |")
    print(f"\n{a.steps} steps x batch {a.batch} pairs, cutoff {a.cutoff}, LoRA r8 all-linear, tiny qwen2, CPU, "
          f"{a.rounds} interleaved rounds")


if __name__ == "__main__":
    main()
