"""sft warm start, then grpo, on a real instruct model: does grpo raise held-out exact match over its start?

    flock /tmp/mgt-heavy.lock mgt env run train -- python bench/real_grpo_pipeline.py [--warm-start-steps 4]
        [--sft-batch 8] [--config script/examples/real/grpo_dates_warm_lora.yaml] [--steps N] [--lr X]
        [--out /tmp/real_grpo_ws] [--base-from /tmp/real_grpo] [--sft-only] [--redo sft,grpo] [k=v ... (grpo)]

bench/real_grpo.py ran grpo from the BASE SmolLM2-135M-Instruct: its reward rose but held-out exact match
stayed 0/100 (the base never writes "18 November 1953", so no sampled group held the right answer). This is
the standard pipeline instead, one measured child process per phase (real_grpo.run_child: wall, CPU-s of the
process tree, peak RSS; each phase's result is kept in OUT/PHASE.json and reused on a re-run unless named in
--redo): (1) greedy held-out answers of the base (or copied from --base-from), (2) a SHORT LoRA sft
(script/examples/real/sft_lora.yaml cut to --warm-start-steps steps of --sft-batch rows, no eval; merged into
its final/), (3) its greedy held-out answers, (4) grpo from that final/ (the config's fresh LoRA; rewards
exact_text + 0.5 token_f1), (5) the grpo final/'s greedy held-out answers. One scorer for all three models
(real_grpo.score on dates_heldout.jsonl, 100 prompts, max 16 new tokens). --sft-only stops after (3), to check
the warm start lands between the base and the ceiling before grpo time is spent. Appends its tables to
bench/results/real_grpo.md (--no-write: print only); a re-run with every phase saved only rebuilds them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import real_grpo as rg  # noqa: E402  (puts the repo, bench/ and the grpo examples on sys.path)
from reward_table import table as reward_windows  # noqa: E402
from suite import load_line  # noqa: E402

CONFIG = rg.REPO / "script/examples/real/grpo_dates_warm_lora.yaml"
SFT_CONFIG = rg.REPO / "script/examples/real/sft_lora.yaml"
PHASES = ("base", "sft", "eval_sft", "grpo", "eval_grpo")


def sft_overrides(args) -> list[str]:
    return [f"train.max_steps={args.warm_start_steps}", f"train.per_device_train_batch_size={args.sft_batch}",
            "train.logging_steps=1", "train.eval_strategy=no", "data.eval=[]",
            "eval.generation_samples=0"]


def phase(args, name: str, argv: list[str]) -> dict:
    return rg.run_child(argv, args.out / f"{name}.log", reuse=name not in args.redo)


def report(args, got: dict) -> str:
    out = args.out
    scores = {k: got[k] | rg.score(out / k / "answers.jsonl") for k in ("base", "eval_sft", "eval_grpo")}
    rows = [json.loads(x) for x in (out / "grpo" / "metrics.jsonl").read_text().splitlines() if x.strip()]
    logged = [r for r in rows if r.get("reward") is not None]
    first, last = logged[: args.every], logged[-args.every:]
    mean = lambda w, k: sum(r.get(k) or 0.0 for r in w) / len(w)  # noqa: E731
    win = lambda w: f"steps {w[0]['step']}-{w[-1]['step']}"  # noqa: E731
    sft, grpo = got["sft"], got["grpo"]
    steps = grpo.get("steps") or (logged[-1]["step"] if logged else 0)
    ex, f1 = "rewards/exact_text/mean", "rewards/token_f1/mean"
    held = lambda r: [f"{r['exact']:.2f} ({round(r['exact'] * r['n'])}/{r['n']})", f"{r['token_f1']:.4f}",  # noqa: E731
                      f"{r['form']:.2f}"]
    train = lambda w: [f"{mean(w, 'reward'):.4f}", f"{mean(w, ex):.4f}", f"{mean(w, f1):.4f}"]  # noqa: E731
    line = lambda cells: "| " + " | ".join(cells) + " |"  # noqa: E731
    title = (f"### sft warm start ({args.warm_start_steps} steps x {args.sft_batch} rows of sft_lora.yaml) then grpo "
             f"({args.config.name}" + (f", {' '.join(args.overrides)}" if args.overrides else "") + ")")
    cost = lambda label, r, n=None: line([label, f"{r['wall']:.0f}", f"{r['cpu']:.0f}", f"{r['rss_mib']:.0f}"] + (  # noqa: E731
        ["", "", ""] if n is None else
        [f"{r.get('train_s', 0):.0f}", f"{r.get('train_cpu', 0):.0f}", f"{r.get('train_s', 0) / max(n, 1):.2f}"]))
    text = [
        title, "",
        ("Held-out: 100 prompts of dates_heldout.jsonl (dates in neither train file, two phrasings unseen in "
        "training), greedy, 16 new tokens; exact = the answer (stripped, one final period dropped) equals the "
        "reference. Train columns: mean over the first / last window of logged grpo steps of the sampled "
        "(temperature 1) completions; reward = exact_text + 0.5 x token_f1 (max 1.5)."), "",
        (f"| model | held-out exact match | held-out mean token_f1 | held-out 'D Month YYYY' form | "
        f"grpo train reward ({win(first)}) | train exact_text ({win(first)}) | train token_f1 ({win(first)}) | "
        f"grpo train reward ({win(last)}) | train exact_text ({win(last)}) | train token_f1 ({win(last)}) |"),
        "|---" * 10 + "|",
        line(["base", *held(scores["base"]), *[""] * 6]),
        line([f"sft warm start ({sft.get('steps')} steps x {args.sft_batch})", *held(scores["eval_sft"]), *train(first),
              *[""] * 3]),
        line([f"sft + grpo ({steps} steps x {args.batch} completions)", *held(scores["eval_grpo"]), *[""] * 3,
              *train(last)]), "",
        "| phase | wall s | CPU-s (process tree) | peak RSS MiB | train-phase wall s | train-phase CPU-s | s/step |",
        "|---|---|---|---|---|---|---|",
        cost(f"base held-out eval (100 greedy answers, {rg.MAX_NEW_TOKENS} tokens)", scores["base"]),
        cost(f"sft warm start ({sft.get('steps')} steps x {args.sft_batch} rows)", sft, sft.get("steps") or 0),
        cost("sft warm start held-out eval", scores["eval_sft"]),
        cost(f"grpo train ({steps} steps x {args.batch} completions)", grpo, steps),
        cost("sft + grpo held-out eval", scores["eval_grpo"]), "",
        f"grpo train reward by window of {args.every} logged steps (beta 0: no kl):", "",
        reward_windows(out / "grpo", args.every), "",
        "First held-out answers (greedy):", "",
        rg.samples(out, columns=(("base", "base"), ("sft warm start", "eval_sft"), ("sft + grpo", "eval_grpo"))), ""]
    return "\n".join(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=CONFIG, help="the grpo config")
    ap.add_argument("--sft-config", type=Path, default=SFT_CONFIG)
    ap.add_argument("--warm-start-steps", type=int, default=4, help="sft train.max_steps")
    ap.add_argument("--sft-batch", type=int, default=8, help="sft train.per_device_train_batch_size")
    ap.add_argument("--out", type=Path, default=Path("/tmp/real_grpo_ws"))
    ap.add_argument("--base-from", type=Path, help="an earlier real_grpo.py --out whose base eval is reused")
    ap.add_argument("--steps", type=int, help="grpo train.max_steps (default: the config's)")
    ap.add_argument("--lr", type=float, help="grpo train.learning_rate (default: the config's)")
    ap.add_argument("--every", type=int, default=9, help="logged grpo steps per reward window")
    ap.add_argument("--sft-only", action="store_true", help="stop after the warm start's held-out eval")
    ap.add_argument("--redo", default="", help="comma-separated phases to rerun though saved: " + ",".join(PHASES))
    ap.add_argument("--no-write", action="store_true", help="do not append to bench/results/real_grpo.md")
    ap.add_argument("overrides", nargs="*", help="grpo config overrides k=v")
    args = ap.parse_args()
    args.redo = set(filter(None, args.redo.split(",")))
    args.overrides += [f"train.max_steps={args.steps}"] * (args.steps is not None) + \
        [f"train.learning_rate={args.lr}"] * (args.lr is not None)
    args.append = True
    from mgtrainer.config import load_config

    cfg = load_config(str(args.config), args.overrides)
    args.batch = cfg.train.per_device_train_batch_size * cfg.train.gradient_accumulation_steps
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    before, started = load_line(), time.perf_counter()
    if args.base_from and not (out / "base.json").is_file():
        shutil.copytree(args.base_from / "base", out / "base", dirs_exist_ok=True)
        shutil.copy(args.base_from / "base.json", out / "base.json")
    grpo = ["--config", str(args.config), *args.overrides]
    sft = ["--config", str(args.sft_config), *sft_overrides(args)]
    got = {"base": phase(args, "base", ["--one", "base", str(out / "base"), *grpo]),
           "sft": phase(args, "sft", ["--one", "train", str(out / "sft"), *sft])}
    got["eval_sft"] = phase(args, "eval_sft", ["--one", str(out / "sft" / "final"), str(out / "eval_sft"), *grpo])
    warm = rg.score(out / "eval_sft" / "answers.jsonl")
    print(f"sft warm start: held-out exact {warm['exact']:.2f}, token_f1 {warm['token_f1']:.4f}", file=sys.stderr)
    if not 0.1 <= warm["exact"] <= 0.6:
        print("warning: the warm start is outside 0.1-0.6 held-out exact match", file=sys.stderr)
    if args.sft_only:
        return
    grpo.append(f"model.name_or_path={out / 'sft' / 'final'}")
    fresh = "grpo" in args.redo or not (out / "grpo.json").is_file()
    got["grpo"] = phase(args, "grpo", ["--one", "train", str(out / "grpo"), *grpo])
    got["eval_grpo"] = phase(args, "eval_grpo", ["--one", str(out / "grpo" / "final"), str(out / "eval_grpo"), *grpo])
    machine = (f"\nMachine: {__import__('os').cpu_count()} CPUs, shared; before: {before}; after: {load_line()}; "
               f"this invocation {time.perf_counter() - started:.0f} s (phases reused from an earlier one not "
               "included).\n")
    meta = out / "meta.json"  # the machine line of the invocation that ran grpo, kept for a report-only re-run
    if fresh or not meta.is_file():
        meta.write_text(json.dumps({"machine": machine}))
    machine = json.loads(meta.read_text())["machine"]
    rg.write(args, report(args, got) + machine, sys.argv[1:], script="bench/real_grpo_pipeline.py")


if __name__ == "__main__":
    main()
