"""grpo side by side on a real instruct model: mgtrainer's grpo vs TRL's GRPOTrainer called directly, equal settings.

    mgt env run train -- python bench/real_grpo_trl.py [--steps 12] [--defaults-steps 1] [--warm /tmp/real_grpo_ws]
        [--out /tmp/real_grpo_trl] [--only mgt,trl_cheap,trl_default] [--redo NAMES] [--no-write]

Start: the sft warm start of bench/real_grpo_pipeline.py (WARM/sft/final: sft_lora.yaml cut to 4 steps x 8 rows,
merged; held-out exact match 0.48, WARM/eval_sft.json); run that bench first (`--sft-only` is enough). Then, each
side its own measured child process under the shared heavy-job lock (--lock; the wait is not measured; bench/
suite.py's measure: wall, CPU-s and peak RSS of the process tree; transformers' Trainer.train timed inside):

  mgt          `mgtrainer train` of script/examples/real/grpo_dates_warm_lora.yaml from WARM/sft/final, max_steps
               --steps, no checkpoint (save_strategy no)
  trl_cheap    what a TRL user writes for the same yaml: GRPOTrainer(model=the warm start, fp32; reward_funcs=
               [mgtrainer.rewards.exact_text, mgtrainer.rewards.token_f1], GRPOConfig(reward_weights [1, 0.5],
               num_generations 4, max_completion_length 12, temperature 1, beta 0, lr 5e-4 linear, batch 16 =
               4 prompts x 4 completions, seed 0, adamw_torch_fused), peft_config LoraConfig(r 16, alpha 32,
               dropout 0.05, all-linear)) on conversational prompts with the `answer` column; gradient
               checkpointing off, bf16 off (fp32)
  trl_default  the same with GRPOConfig's defaults for those two (gradient checkpointing on, bf16 autocast on CPU);
               --defaults-steps below --steps makes it a cost sample (no save, no held-out eval)

then greedy held-out answers of each trained final/ (LoRA merged) on the 100 prompts of dates_heldout.jsonl, one
scorer for all (bench/real_grpo.py's heldout_eval / score: 16 new tokens, exact = stripped answer, one final
period dropped, equals the reference). Train reward: the mean logged reward (exact_text + 0.5 token_f1, max 1.5)
over the first and last --every steps. Cost: train-phase CPU-s per 1k tokens, tokens = TRL's num_tokens at the
last step (the prompt and completion tokens of every sampled sequence: both sides run TRL's GRPOTrainer).
Each child's result is kept in OUT/NAME.json and reused unless named in --redo. Writes
bench/results/real_grpo_trl.md (--no-write: print only).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import real_grpo as rg  # noqa: E402  (puts the repo, bench/ and the grpo examples on sys.path)
from suite import TRAINS, hook_train, load_line, measure  # noqa: E402

CONFIG = rg.REPO / "script/examples/real/grpo_dates_warm_lora.yaml"
DATA = rg.REPO / "script/examples/real/data/dates_grpo.jsonl"
RESULTS = rg.REPO / "bench/results/real_grpo_trl.md"
SIDES = {"mgt": "mgtrainer grpo", "trl_cheap": "TRL GRPOTrainer, cheapest (gradient checkpointing off, fp32)",
         "trl_default": "TRL GRPOTrainer, defaults (gradient checkpointing on, bf16 autocast)"}


# -- inside a child -----------------------------------------------------------------------------------------

def settings():
    from mgtrainer.config import load_config

    return load_config(str(CONFIG))


def train_mgt(out: Path, warm: Path, steps: int) -> dict:
    rg.train_child(CONFIG, out, [f"model.name_or_path={warm}", f"train.max_steps={steps}", "train.save_strategy=no"])
    return {}


def train_trl(out: Path, warm: Path, steps: int, cheapest: bool, sample: bool) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from mgtrainer.rewards import exact_text, token_f1

    hook_train()
    cfg = settings()
    g, t, lora = cfg.task, cfg.train, cfg.lora
    rows = [json.loads(x) for x in DATA.read_text().splitlines() if x.strip()]
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}], "answer": r["answer"]} for r in rows])
    same = {"gradient_checkpointing": False, "bf16": False} if cheapest else {}
    args = GRPOConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=t.per_device_train_batch_size,
                      learning_rate=t.learning_rate, lr_scheduler_type=t.lr_scheduler_type, optim=t.optim,
                      weight_decay=t.weight_decay, max_grad_norm=t.max_grad_norm, seed=t.seed,
                      num_generations=g.num_generations, max_completion_length=g.max_completion_length,
                      temperature=g.temperature, beta=g.beta, loss_type=g.loss, reward_weights=g.weights(),
                      logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, **same)
    tok = AutoTokenizer.from_pretrained(warm)
    peft = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules="all-linear",
                      task_type="CAUSAL_LM")
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(warm, dtype=torch.float32),
                          reward_funcs=[exact_text, token_f1], args=args, train_dataset=ds, processing_class=tok,
                          peft_config=peft)
    trainer.train()
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in trainer.state.log_history))
    if not sample:
        trainer.model.merge_and_unload().save_pretrained(out / "final")
        tok.save_pretrained(out / "final")
    return {"gradient_checkpointing": args.gradient_checkpointing, "bf16": args.bf16}


def child(a) -> None:
    what, out = a.one
    out = Path(out)
    if what == "eval":
        result = rg.heldout_eval(CONFIG, str(out / "run" / "final"), out)
    else:
        sample = what == "trl_default" and a.defaults_steps and a.defaults_steps < a.steps
        steps = a.defaults_steps if sample else a.steps
        if what == "mgt":
            result = train_mgt(out / "run", a.warm / "sft" / "final", steps)
        else:
            result = train_trl(out / "run", a.warm / "sft" / "final", steps, what == "trl_cheap", bool(sample))
        result |= TRAINS[-1] if TRAINS else {}
    print("RESULT " + json.dumps(result))


# -- the parent -----------------------------------------------------------------------------------------------

def run(a, name: str, argv: list[str]) -> dict:
    """One measured child under the heavy-job lock; its result kept in OUT/NAME.json (reused unless in --redo)."""
    saved, log = a.out / f"{name}.json", a.out / f"{name}.log"
    if saved.is_file() and name not in a.redo:
        return json.loads(saved.read_text())
    with open(a.lock, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            got = measure([sys.executable, str(Path(__file__).resolve()), *argv], log)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    text = log.read_text()
    if got["code"] != 0 or "RESULT " not in text:
        raise SystemExit(f"{name}: exit {got['code']}; log {log}:\n{text[-3000:]}")
    got |= json.loads(text.rsplit("RESULT ", 1)[1].splitlines()[0])
    saved.write_text(json.dumps(got))
    print(f"{name}: wall {got['wall']:.0f} s, CPU {got['cpu']:.0f} s, peak RSS {got['rss_mib']:.0f} MiB",
          file=sys.stderr, flush=True)
    return got


def logged(folder: Path) -> list[dict]:
    rows = [json.loads(x) for x in (folder / "run" / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return [r for r in rows if r.get("reward") is not None]


def report(a, got: dict) -> str:
    warm = json.loads((a.warm / "eval_sft.json").read_text())
    lines = [f"### grpo from the sft warm start: mgtrainer vs TRL GRPOTrainer ({a.steps} steps; TRL defaults: "
             f"{a.defaults_steps or a.steps})", "",
             "Equal settings (script/examples/real/grpo_dates_warm_lora.yaml): LoRA r16/alpha32/dropout 0.05 all-linear "
             "on the warm start, rewards exact_text + 0.5 x token_f1 (mgtrainer.rewards), 4 prompts x 4 completions "
             "a step (12 new tokens, temperature 1), beta 0, loss dapo, lr 5e-4 linear to 0 over the steps, AdamW "
             "(fused), seed 0, fp32 unless said. Held-out: 100 greedy answers to dates_heldout.jsonl, one scorer. "
             f"Train reward (max 1.5): mean of the logged reward over the first / last {a.every} steps.", "",
             "| side | steps | held-out exact match | held-out mean token_f1 | train reward first / last | train "
             "exact_text first / last | train tokens | train-phase wall s | train-phase CPU s | train CPU-s / 1k "
             "tokens | vs mgtrainer | s / step | whole-run CPU s | peak RSS MiB |", "|---" * 14 + "|",
             f"| sft warm start (the start of every side; {a.warm}/eval_sft.json) | - | {warm['exact']:.2f} | "
             f"{warm['token_f1']:.4f} | | | | | | | | | | |"]
    ref = None
    for side, label in SIDES.items():
        r = got.get(side)
        if not r:
            continue
        rows = logged(a.out / side)
        first, last = rows[: a.every], rows[-a.every:]
        mean = lambda w, k: sum(x.get(k) or 0.0 for x in w) / len(w)  # noqa: E731
        tokens = rows[-1].get("num_tokens") if rows else None
        per = r["train_cpu"] / tokens if tokens else None
        ref = per if side == "mgt" else ref
        ev = got.get(f"eval_{side}")
        held = [f"{ev['exact']:.2f} ({round(ev['exact'] * ev['n'])}/{ev['n']})", f"{ev['token_f1']:.4f}"] if ev else \
            ["not evaluated (cost sample)", ""]
        ex = "rewards/exact_text/mean"
        lines.append("| " + " | ".join([
            label, str(r.get("steps")), *held, f"{mean(first, 'reward'):.3f} / {mean(last, 'reward'):.3f}",
            f"{mean(first, ex):.3f} / {mean(last, ex):.3f}", f"{tokens:.0f}" if tokens else "-", f"{r['train_s']:.1f}",
            f"{r['train_cpu']:.1f}", f"{1000 * per:.2f}" if per else "-",
            f"{per / ref:.2f}x" if per and ref else "-", f"{r['train_s'] / max(r.get('steps') or 1, 1):.1f}",
            f"{r['cpu']:.1f}", f"{r['rss_mib']:.0f}"]) + " |")
    lines += ["", "| held-out eval of | wall s | CPU s | peak RSS MiB |", "|---|---|---|---|"]
    lines += [f"| {SIDES[s]} | {got[f'eval_{s}']['wall']:.1f} | {got[f'eval_{s}']['cpu']:.1f} | "
              f"{got[f'eval_{s}']['rss_mib']:.0f} |" for s in SIDES if got.get(f"eval_{s}")]
    lines += ["", "train tokens: TRL's num_tokens at the last step (both sides run TRL's GRPOTrainer): the prompt and "
              "completion tokens of the sampled sequences. Train phase: Trainer.train (generation, reward, loss, "
              "update); whole run: the process (imports, load, train, save the merged final/), os.wait4. "
              "One round per side, each alone under the heavy-job lock, one after another (not interleaved), on a "
              "2-core machine shared with other jobs. LLaMA-Factory has no GRPO stage (its stages: pt, sft, rm, ppo, "
              "dpo, kto), so it has no row."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=12, help="grpo steps of every side")
    ap.add_argument("--defaults-steps", type=int, default=1, help="steps of trl_default (fewer: a cost sample)")
    ap.add_argument("--warm", type=Path, default=Path("/tmp/real_grpo_ws"), help="bench/real_grpo_pipeline.py --out")
    ap.add_argument("--out", type=Path, default=Path("/tmp/real_grpo_trl"))
    ap.add_argument("--only", default=",".join(SIDES))
    ap.add_argument("--every", type=int, default=4, help="logged steps per train-reward window")
    ap.add_argument("--redo", default="", help="comma-separated results to recompute: mgt, eval_mgt, trl_cheap, ...")
    ap.add_argument("--lock", default="/tmp/mgt-heavy.lock")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        return child(a)
    a.redo = set(filter(None, a.redo.split(",")))
    if not (a.warm / "sft" / "final" / "config.json").is_file():
        sys.exit(f"no warm start in {a.warm}/sft/final: run `python bench/real_grpo_pipeline.py --out {a.warm} --sft-only`")
    a.out.mkdir(parents=True, exist_ok=True)
    before, started = load_line(), time.perf_counter()
    flags = ["--steps", str(a.steps), "--defaults-steps", str(a.defaults_steps), "--warm", str(a.warm)]
    got = {}
    for side in filter(None, a.only.split(",")):
        got[side] = run(a, side, ["--one", side, str(a.out / side), *flags])
        if (a.out / side / "run" / "final" / "config.json").is_file():
            got[f"eval_{side}"] = run(a, f"eval_{side}", ["--one", "eval", str(a.out / side), *flags])
    text = report(a, got) + (f"\n\nMachine: {os.cpu_count()} CPUs, shared; before: {before}; after: {load_line()}; "
                             f"this invocation {time.perf_counter() - started:.0f} s (results reused from earlier "
                             "invocations not included).\n")
    print(text)
    if not a.no_write:
        RESULTS.write_text(f"# bench/real_grpo_trl.py\n\n`mgt env run train -- python bench/real_grpo_trl.py "
                           f"{' '.join(sys.argv[1:])}`\n\n{text}")


if __name__ == "__main__":
    main()
