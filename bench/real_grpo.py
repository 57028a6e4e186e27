"""grpo on a real instruct model: does a rule reward teach SmolLM2-135M-Instruct the dates skill on CPU?

    flock /tmp/mgt-heavy.lock mgt env run train -- python bench/real_grpo.py [--steps N] [--lr X] [--every 16]
        [--config script/examples/real/grpo_dates_lora.yaml] [--out /tmp/real_grpo] [k=v ...]
    # the shaped-reward run, reusing the first run's base eval and appending its tables:
    ... python bench/real_grpo.py --config script/examples/real/grpo_dates_lora_shaped.yaml \
        --out /tmp/real_grpo/shaped --base-from /tmp/real_grpo --every 8 --append

Three child processes, one after the other (bench/suite.py's `measure`: wall, CPU-s of the process tree,
peak RSS): (1) greedy answers of the base model on the 100 held-out prompts (dates_heldout.jsonl: dates and
two phrasings never in the grpo data), (2) `mgtrainer train` of the config (grpo, LoRA r16/alpha32
all-linear, reward mgtrainer.rewards:token_f1 against the row's `answer`), (3) the same greedy answers of
its final/ (the LoRA merged). Held-out scores: exact match (the answer, stripped of spaces and one trailing
period, equals the reference, case-sensitive) and the mean token_f1 (the training reward, on the greedy
answer). The train reward by step window comes from the run's metrics.jsonl
(script/examples/grpo/reward_table.py). Prints markdown tables and writes them to bench/results/real_grpo.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench"), str(REPO / "script" / "examples" / "grpo")]

from reward_table import table as reward_windows  # noqa: E402
from suite import hook_train, load_line, measure, TRAINS  # noqa: E402

CONFIG = REPO / "script/examples/real/grpo_dates_lora.yaml"
HELDOUT = REPO / "script/examples/real/data/dates_heldout.jsonl"
RESULTS = REPO / "bench/results/real_grpo.md"
MAX_NEW_TOKENS = 16
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
DATE_WORDS = re.compile(rf"\d{{1,2}} (?:{MONTHS}) \d{{4}}")
MONTH = re.compile(rf"\b(?:{MONTHS})\b", re.IGNORECASE)


def same(pred: str, ref: str) -> bool:
    return pred.strip().removesuffix(".").strip() == ref.strip()


def date_format(completions, month_credit: float = 0.0, **_) -> list[float]:
    """Format reward (config: `function: "real_grpo:date_format"`, bench/ importable): 1.0 when the whole
    answer has the form 'D Month YYYY' (one trailing period allowed), else `month_credit` when it names a
    month at all, else 0.0. token_f1 is a bag of words ("July 2, 1998" scores 1.0 against "2 July 1998");
    this adds the order the exact match asks for, and month_credit > 0 lifts any month-name answer above
    the ISO echo whatever month it names."""
    from mgtrainer.rewards import text_of

    def one(text: str) -> float:
        text = text.strip().removesuffix(".").strip()
        return 1.0 if DATE_WORDS.fullmatch(text) else month_credit if MONTH.search(text) else 0.0

    return [one(text_of(c)) for c in completions]


def heldout_eval(config: Path, model_dir: str | None, out: Path) -> dict:
    """Greedy answers of model_dir (None: the config's base model) on the held-out prompts, scored."""
    from mgtrainer.config import load_config
    from mgtrainer.data import iter_records
    from mgtrainer.driver import model as dm
    from mgtrainer.driver.generate import generate, prompts_and_references

    cfg = load_config(str(config))
    src = cfg.model if model_dir is None else cfg.model.model_copy(update={"name_or_path": model_dir})
    tok = dm.load_tokenizer(src, "causal_lm")
    model = dm.load_model(src, "causal_lm", tok)
    records = list(iter_records(HELDOUT, kind="chat"))
    prompts, refs = prompts_and_references(tok, records, len(records))
    t0 = time.perf_counter()
    preds = generate(model, tok, prompts, MAX_NEW_TOKENS)
    gen_s = time.perf_counter() - t0
    rows = [{"reference": r, "answer": p} for r, p in zip(refs, preds)]
    (out / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return score(out / "answers.jsonl") | {"gen_s": gen_s}


def score(answers: Path) -> dict:
    """Held-out scores of a saved answers.jsonl: exact match, mean token_f1, share in the 'D Month YYYY'
    form, share that names a month at all."""
    from mgtrainer.rewards import token_f1

    rows = [json.loads(x) for x in answers.read_text().splitlines() if x.strip()]
    preds, refs = [r["answer"] for r in rows], [r["reference"] for r in rows]
    f1, n = token_f1(preds, answer=refs), len(rows)
    return {"n": n, "exact": sum(map(same, preds, refs)) / n, "token_f1": sum(f1) / n,
            "form": sum(date_format(preds)) / n, "month": sum(bool(MONTH.search(p)) for p in preds) / n}


def train_child(config: Path, out: Path, overrides: list[str]) -> dict:
    from mgtrainer.app import runs

    hook_train()
    runs.train(str(config), [f"train.output_dir={out}", "train.overwrite_output_dir=true", *overrides])
    return TRAINS[-1] if TRAINS else {}


def child(args) -> None:
    what, out = args.one
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if what == "train":
        result = train_child(args.config, out, args.overrides)
    else:
        result = heldout_eval(args.config, None if what == "base" else what, out)
    print("RESULT " + json.dumps(result))


def run_child(argv: list[str], log: Path, reuse: bool = False) -> dict:
    """One measured child; its result is kept beside its log (LOG.json), and with reuse taken from there."""
    saved = log.with_suffix(".json")
    if reuse and saved.is_file():
        print(f"{argv[:3]}: reusing {saved}", file=sys.stderr)
        return json.loads(saved.read_text())
    got = measure([sys.executable, str(Path(__file__).resolve()), *argv], log)
    text = log.read_text()
    if got["code"] != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {got['code']}\n{text[-3000:]}")
    print(f"{argv[:3]}: wall {got['wall']:.0f} s, CPU {got['cpu']:.0f} s, peak RSS {got['rss_mib']:.0f} MiB",
          file=sys.stderr, flush=True)
    got |= json.loads(text.rsplit("RESULT ", 1)[1].splitlines()[0])
    saved.write_text(json.dumps(got))
    return got


def samples(out: Path, n: int = 6, columns=(("base answer", "base"), ("grpo answer", "eval_trained"))) -> str:
    """The first n held-out answers side by side: one column per (title, folder under out with answers.jsonl)."""
    answers = [[json.loads(x) for x in (out / sub / "answers.jsonl").read_text().splitlines()] for _, sub in columns]
    lines = ["| reference | " + " | ".join(title for title, _ in columns) + " |", "|---" * (len(columns) + 1) + "|"]
    cell = lambda s: json.dumps(s)[1:-1].replace("|", "\\|")  # noqa: E731 (one line, visible whitespace)
    for row in list(zip(*answers))[:n]:
        lines.append(f"| {row[0]['reference']} | " + " | ".join(cell(r["answer"]) for r in row) + " |")
    return "\n".join(lines)


def report(args, base: dict, train: dict, tuned: dict, run_dir: Path) -> str:
    base, tuned = base | score(args.out / "base" / "answers.jsonl"), tuned | score(args.out / "eval_trained" / "answers.jsonl")
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    logged = [r for r in rows if r.get("reward") is not None]
    first, last = logged[: args.every], logged[-args.every:]
    mean = lambda w, k: sum(r.get(k) or 0.0 for r in w) / len(w)  # noqa: E731
    steps = train.get("steps") or (logged[-1]["step"] if logged else 0)
    win = lambda w: f"steps {w[0]['step']}-{w[-1]['step']}"  # noqa: E731
    f1 = "rewards/token_f1/mean"
    cell = lambda r: (f"{r['exact']:.2f} ({round(r['exact'] * r['n'])}/{r['n']}) | {r['token_f1']:.4f} | "  # noqa: E731
                      f"{r['form']:.2f} | {r['month']:.2f}")
    out = [f"### grpo: SmolLM2-135M-Instruct, LoRA r16/alpha32 all-linear ({args.config.name}"
           + (f", {' '.join(args.overrides)}" if args.overrides else "") + ")", "",
           "| model | held-out exact match | held-out mean token_f1 | held-out 'D Month YYYY' form | held-out names a month | "
           f"train token_f1 ({win(first)}) | train token_f1 ({win(last)}) | train reward ({win(first)}) | "
           f"train reward ({win(last)}) |", "|---" * 9 + "|",
           f"| base | {cell(base)} | {mean(first, f1):.4f} | | {mean(first, 'reward'):.4f} | |",
           f"| grpo, {steps} steps | {cell(tuned)} | | {mean(last, f1):.4f} | | {mean(last, 'reward'):.4f} |", "",
           "| phase | wall s | CPU-s (process tree) | peak RSS MiB | train-phase wall s | train-phase CPU-s | s/step |",
           "|---|---|---|---|---|---|---|",
           f"| base held-out eval (100 greedy answers, {MAX_NEW_TOKENS} tokens) | {base['wall']:.0f} | {base['cpu']:.0f} | "
           f"{base['rss_mib']:.0f} | | | |",
           f"| grpo train ({steps} steps x {args.batch} completions) | {train['wall']:.0f} | {train['cpu']:.0f} | "
           f"{train['rss_mib']:.0f} | {train.get('train_s', 0):.0f} | {train.get('train_cpu', 0):.0f} | "
           f"{train.get('train_s', 0) / max(steps, 1):.2f} |",
           f"| trained held-out eval | {tuned['wall']:.0f} | {tuned['cpu']:.0f} | {tuned['rss_mib']:.0f} | | | |", "",
           f"Train reward by window of {args.every} logged steps (mean over the window; reward = the weighted sum of the configured rewards; kl is logged only when beta > 0):", "",
           reward_windows(run_dir, args.every), "",
           "First held-out answers (greedy):", "", samples(args.out), ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--out", type=Path, default=Path("/tmp/real_grpo"))
    ap.add_argument("--steps", type=int, help="train.max_steps (default: the config's)")
    ap.add_argument("--lr", type=float, help="train.learning_rate (default: the config's)")
    ap.add_argument("--every", type=int, default=25, help="logged steps per reward window")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/real_grpo.md")
    ap.add_argument("--append", action="store_true", help="append to bench/results/real_grpo.md (another config)")
    ap.add_argument("--base-from", type=Path, help="an earlier --out whose base eval (base.json, base/) is reused "
                    "(the base model's greedy answers do not depend on the grpo config)")
    ap.add_argument("--report-only", action="store_true", help="rebuild the tables from --out's saved results "
                    "(base.json, train.json, eval_trained.json, meta.json, answers, metrics.jsonl): no new run")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("overrides", nargs="*", help="config overrides k=v")
    args = ap.parse_args()
    args.overrides += [f"train.max_steps={args.steps}"] * (args.steps is not None) + \
        [f"train.learning_rate={args.lr}"] * (args.lr is not None)
    if args.one:
        return child(args)
    from mgtrainer.config import load_config

    cfg = load_config(str(args.config), args.overrides)
    args.batch = cfg.train.per_device_train_batch_size * cfg.train.gradient_accumulation_steps
    args.out.mkdir(parents=True, exist_ok=True)
    run_dir = args.out / "run"
    if args.report_only:
        got = {name: json.loads((args.out / f"{name}.json").read_text()) for name in ("base", "train", "eval_trained")}
        meta = json.loads((args.out / "meta.json").read_text())
        return write(args, report(args, got["base"], got["train"], got["eval_trained"], run_dir) + meta["machine"],
                     meta["argv"])
    before, started = load_line(), time.perf_counter()
    extra = ["--config", str(args.config), *args.overrides]
    if args.base_from and args.base_from.resolve() != args.out.resolve():
        import shutil

        shutil.copytree(args.base_from / "base", args.out / "base", dirs_exist_ok=True)
        shutil.copy(args.base_from / "base.json", args.out / "base.json")
    base = run_child(["--one", "base", str(args.out / "base"), *extra], args.out / "base.log",
                     reuse=args.base_from is not None)
    train = run_child(["--one", "train", str(run_dir), *extra], args.out / "train.log")
    tuned = run_child(["--one", str(run_dir / "final"), str(args.out / "eval_trained"), *extra],
                      args.out / "eval_trained.log")
    machine = (f"\nMachine: {__import__('os').cpu_count()} CPUs, shared; before: {before}; after: {load_line()}; "
               f"whole benchmark {time.perf_counter() - started:.0f} s.\n")
    (args.out / "meta.json").write_text(json.dumps({"machine": machine, "argv": sys.argv[1:]}))
    write(args, report(args, base, train, tuned, run_dir) + machine, sys.argv[1:])


def write(args, text: str, argv: list[str], script: str = "bench/real_grpo.py") -> None:
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        head = "" if args.append else "# real_grpo\n\n"
        with open(RESULTS, "a" if args.append else "w") as f:
            f.write(f"{head}`python {script} {' '.join(argv)}`\n\n{text}\n")


if __name__ == "__main__":
    main()
