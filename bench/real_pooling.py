"""A real decoder (SmolLM2-135M-Instruct, last-token pooling) as the backbone of rm and classify, beside MiniLM.

    flock /tmp/mgt-heavy.lock mgt env run train -- python bench/real_pooling.py [--only rm,classify]
        [--out /tmp/real_pooling] [--quick]

Cases (configs in script/examples/real/; every run in its own child process, measured by bench/suite.py's
`measure`: wall, CPU-s of the process tree and peak RSS; inside it, transformers' Trainer.train is wrapped
(suite.hook_train) for the train-phase wall and CPU):
  rm        rm_dates_smollm2_lora.yaml vs rm_dates_minilm.yaml: Bradley-Terry reward model, 1 epoch over the
            300 dates pairs (dates_dpo.jsonl), held-out pair accuracy and mean margin on dates_dpo_heldout.jsonl
            (100 pairs, dates never in train), also by the kind of rejected answer (next month, day/month
            swapped, the ISO echo), read from the final eval's scores.
  classify  classify_snips_smollm2_lora.yaml vs classify_snips_minilm.yaml on a stratified SNIPS subset (seed 0:
            100 train rows per intent from snips_intent_train.jsonl = 700; 300 held-out rows from
            snips_intent_validate.jsonl, 43 or 42 per intent), written under --out (never in the project),
            2 epochs: held-out accuracy and macro-F1.
Equal settings within a case: data, epochs, batch, cutoff, seed; the learning rate follows the tuning (MiniLM
full 1e-4, SmolLM2 LoRA r16/alpha32 all-linear 1e-3, head trained in full). --quick: 2 steps and a few eval
rows (a smoke test). Prints markdown tables and writes them to bench/results/real_pooling.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from suite import SNIPS, TRAINS, hook_train, load_line, measure  # noqa: E402

REAL = REPO / "script/examples/real"
RESULTS = REPO / "bench/results/real_pooling.md"
CASES = {"rm": {"SmolLM2-135M-Instruct LoRA": "rm_dates_smollm2_lora.yaml", "MiniLM-L6 full": "rm_dates_minilm.yaml"},
         "classify": {"SmolLM2-135M-Instruct LoRA": "classify_snips_smollm2_lora.yaml",
                      "MiniLM-L6 full": "classify_snips_minilm.yaml"}}
SCORES: list = []  # (chosen, rejected) reward tensors of each pair_metrics call in this child


# -- data (parent) ------------------------------------------------------------------------------------
def snips_subset(out: Path, per_label: int = 100, held_out: int = 300, seed: int = 0) -> tuple[Path, Path]:
    """Stratified SNIPS subset files under out: per_label train rows per intent, held_out rows spread evenly."""
    rng, paths = random.Random(seed), []
    for name, split, quota in (("train", "train", None), ("heldout", "validate", held_out)):
        by_label = defaultdict(list)
        for line in (SNIPS / f"snips_intent_{split}.jsonl").read_text().splitlines():
            by_label[json.loads(line)["label"]].append(line)
        labels = sorted(by_label)
        sizes = [per_label] * len(labels) if quota is None else \
            [quota // len(labels) + (i < quota % len(labels)) for i in range(len(labels))]
        rows = [row for label, n in zip(labels, sizes) for row in rng.sample(by_label[label], n)]
        rng.shuffle(rows)
        paths.append(out / f"snips_{name}.jsonl")
        paths[-1].write_text("\n".join(rows) + "\n")
    return paths[0], paths[1]


def rejected_kind(pair: dict) -> str:
    """make_data.py's three wrong answers: the ISO echo, the next month, day and month swapped."""
    if ":" in pair["rejected"]:
        return "ISO echo"
    return "next month" if pair["rejected"].split()[0] == pair["chosen"].split()[0] else "day/month swapped"


# -- one run (child) ------------------------------------------------------------------------------------
def capture_pair_scores() -> None:
    """Keep the chosen/rejected rewards rm's metrics_fn passes to pair_metrics (the last call = final eval)."""
    from mgtrainer.driver import metrics

    original = metrics.pair_metrics

    def pair_metrics(chosen, rejected):
        SCORES.append((chosen.float().tolist(), rejected.float().tolist()))
        return original(chosen, rejected)

    metrics.pair_metrics = pair_metrics


def child(case: str, config: str, out: Path, overrides: list[str]) -> dict:
    from mgtrainer.app import runs
    from mgtrainer.config import load_config

    hook_train()
    capture_pair_scores()
    cfg = load_config(str(REAL / config), [f"train.output_dir={out}", "train.overwrite_output_dir=true", *overrides])
    metrics = runs.train(cfg)
    result = {k: v for k, v in metrics.items() if k.startswith("eval_") and isinstance(v, (int, float))}
    if case == "rm" and SCORES:
        pairs = [json.loads(x) for path in cfg.data.eval for x in Path(path).read_text().splitlines() if x.strip()]
        chosen, rejected = SCORES[-1]
        if len(chosen) == len(pairs):  # the eval rows in file order
            kinds = defaultdict(list)
            for pair, c, r in zip(pairs, chosen, rejected):
                kinds[rejected_kind(pair)].append(c > r)
            result["by_kind"] = {k: [sum(v), len(v)] for k, v in sorted(kinds.items())}
    return result | (TRAINS[-1] if TRAINS else {})


# -- parent: run, tabulate ------------------------------------------------------------------------------
def run_side(case: str, side: str, config: str, out: Path, overrides: list[str]) -> dict:
    run_dir = out / "runs" / f"{case}-{config.removesuffix('.yaml')}"
    log = run_dir.parent / f"{run_dir.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", case, config, str(run_dir), *overrides]
    got = measure(cmd, log)
    text = log.read_text()
    if got["code"] != 0:
        print(f"{case} / {side}: exit {got['code']}\n{text[-3000:]}", file=sys.stderr)
        return {"failed": f"exit {got['code']} (log {log})"}
    got |= json.loads(text.rsplit("RESULT ", 1)[1].splitlines()[0])
    print(f"{case} / {side}: " + ", ".join(f"{k} {v:.4g}" for k, v in got.items() if isinstance(v, (int, float))),
          file=sys.stderr, flush=True)
    return got


def fmt(x, spec: str = ".4f") -> str:
    return "n/a" if x is None else format(x, spec)


def cost(r: dict) -> str:
    return (f"{fmt(r.get('train_s'), '.0f')} | {fmt(r.get('train_cpu'), '.0f')} | {fmt(r.get('cpu'), '.0f')} | "
            f"{fmt(r.get('rss_mib'), '.0f')} | {fmt(r.get('steps'), '.0f')}")


def rm_table(results: dict) -> str:
    kinds = sorted({k for r in results.values() for k in r.get("by_kind", {})})
    lines = ["| backbone | held-out pair accuracy | mean margin | held-out BT loss | "
             + " | ".join(f"accuracy vs {k}" for k in kinds)
             + " | train wall s | train CPU-s | whole-run CPU-s | peak RSS MiB | steps |",
             "|---" * (9 + len(kinds)) + "|"]
    for side, r in results.items():
        if "failed" in r:
            lines.append(f"| {side} | {r['failed']} |" + " |" * (7 + len(kinds)))
            continue
        by = r.get("by_kind", {})
        lines.append(f"| {side} | {fmt(r.get('eval_accuracy'))} | {fmt(r.get('eval_margin'))} | {fmt(r.get('eval_loss'))} | "
                     + " | ".join(f"{by[k][0] / by[k][1]:.2f} ({by[k][0]}/{by[k][1]})" if k in by else "n/a" for k in kinds)
                     + f" | {cost(r)} |")
    return "\n".join(lines)


def classify_table(results: dict) -> str:
    lines = ["| backbone | held-out accuracy | held-out macro-F1 | train wall s | train CPU-s | whole-run CPU-s | "
             "peak RSS MiB | steps |", "|---|---|---|---|---|---|---|---|"]
    for side, r in results.items():
        if "failed" in r:
            lines.append(f"| {side} | {r['failed']} |" + " |" * 6)
            continue
        lines.append(f"| {side} | {fmt(r.get('eval_accuracy'))} | {fmt(r.get('eval_macro_f1'))} | {cost(r)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(CASES), help="comma-separated cases: rm,classify")
    ap.add_argument("--out", type=Path, default=Path("/tmp/real_pooling"))
    ap.add_argument("--sides", default="", help="keep only the sides whose name contains one of these (comma-separated)")
    ap.add_argument("--quick", action="store_true", help="2 steps, a few eval rows: a smoke test (no results file)")
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("overrides", nargs="*", help="config overrides k=v for every run")
    args = ap.parse_args()
    if args.one:
        case, config, out = args.one
        print("RESULT " + json.dumps(child(case, config, Path(out), args.overrides)))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    before, started, sections = load_line(), time.perf_counter(), []
    for case in args.only.split(","):
        overrides = list(args.overrides) + ["train.max_steps=2"] * args.quick
        if case == "classify":
            train, held = snips_subset(args.out, held_out=14 if args.quick else 300)
            overrides += [f"data.train=[{train}]", f"data.eval=[{held}]"]
            what = (f"SNIPS intents, stratified subset (seed 0): {sum(1 for _ in open(train))} train rows, "
                    f"{sum(1 for _ in open(held))} held-out rows (snips_intent_validate.jsonl), 2 epochs x 32")
        else:
            if args.quick:
                few = args.out / "dates_dpo_heldout_quick.jsonl"
                few.write_text("".join((REAL / "data/dates_dpo_heldout.jsonl").read_text().splitlines(True)[:12]))
                overrides.append(f"data.eval=[{few}]")
            what = "dates pairs: 300 train (dates_dpo.jsonl), 100 held-out (dates_dpo_heldout.jsonl), 1 epoch x 8"
        keep = [x for x in args.sides.split(",") if x]
        results = {side: run_side(case, side, config, args.out, overrides) for side, config in CASES[case].items()
                   if not keep or any(x in side for x in keep)}
        table = rm_table(results) if case == "rm" else classify_table(results)
        sections.append(f"### {case}: {what}\n\n{table}\n")
        print(sections[-1], flush=True)
    text = "\n".join(sections) + (f"\nMachine: {__import__('os').cpu_count()} CPUs, shared; before: {before}; after: "
                                  f"{load_line()}; whole benchmark {time.perf_counter() - started:.0f} s.\n")
    print(text)
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(f"# real_pooling\n\n`python bench/real_pooling.py {' '.join(sys.argv[1:])}`\n\n{text}")


if __name__ == "__main__":
    main()
