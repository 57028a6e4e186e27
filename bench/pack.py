"""`data pack` throughput and peak memory, and time-to-first-step from the cache vs the raw files; prints
tables.

    python bench/pack.py --rows 1000000 [--rss-rows 100000,300000] [--rounds 3] [--no-pack] [--model DIR] [--work DIR]

Generates alpaca JSONL files in --work (default /tmp/mgt-pack-bench; never commit them). For each of
--rss-rows and --rows it packs the file with 1 and 2 processes: wall and CPU seconds (user + sys of the
packer and its workers), rows/s, peak RSS of the largest process (wait4's ru_maxrss). Flat memory shows
as the same peak RSS at every size. Then, --rounds times interleaved (raw, cache, raw, cache, ...), it
starts `mgtrainer train` from the raw --rows file and from its 2-process cache and times launch -> the
first logged step (metrics.jsonl), with the CPU seconds spent until then. A tiny model is made when
--model is not given. Numbers, not assertions: references/scale.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
WORDS = "the a model data train token shard rank cache batch loss step fast slow small large".split()


def generate(path: Path, rows: int) -> None:
    rng = random.Random(0)
    with open(path, "w") as fh:
        for i in range(rows):
            say = lambda n: " ".join(rng.choice(WORDS) for _ in range(n))  # noqa: E731
            fh.write(json.dumps({"instruction": f"{i} {say(rng.randint(3, 20))}", "input": "",
                                 "output": say(rng.randint(3, 30))}) + "\n")


def run(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS MiB of the largest process) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(argv)}\n{proc.stderr.read()[-2000:]}")
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def first_step(argv: list[str], out: Path, limit: float = 3600) -> tuple[float, float, int]:
    """(seconds from launch until metrics.jsonl holds a loss, CPU seconds until then, peak RSS MiB); the
    run is then stopped."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = out / "metrics.jsonl"
    while time.perf_counter() - t0 < limit:
        if metrics.is_file() and '"loss"' in metrics.read_text():
            break
        if proc.poll() is not None:
            sys.exit(f"failed: {' '.join(argv)} (exit {proc.returncode})")
        time.sleep(0.2)
    took = time.perf_counter() - t0
    proc.terminate()
    _, _, usage = os.wait4(proc.pid, 0)
    return took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def config(work: Path, model: str, rows: int) -> Path:
    data = work / f"sft-{rows}.jsonl"
    if not data.is_file():
        generate(data, rows)
    cfg = work / f"run-{rows}.yaml"
    cfg.write_text(json.dumps({"task": "sft", "model": {"name_or_path": model},
                               "data": {"train": [str(data)], "cutoff_len": 128},
                               "train": {"max_steps": 1, "logging_steps": 1, "preview_samples": 0,
                                         "per_device_train_batch_size": 8, "overwrite_output_dir": True}}))
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rss-rows", default="100000,300000", help="smaller sizes packed too (peak RSS vs size)")
    ap.add_argument("--rounds", type=int, default=3, help="raw/cache first-step rounds, interleaved")
    ap.add_argument("--no-pack", action="store_true", help="first-step rounds only, from the caches in --work")
    ap.add_argument("--model")
    ap.add_argument("--work", default="/tmp/mgt-pack-bench")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    mgt = [sys.executable, "-m", "mgtrainer"]
    model = args.model or str(work / "tiny")
    if not args.model and not (work / "tiny" / "config.json").is_file():
        subprocess.run([*mgt, "model", "tiny", model], env=ENV, check=True, stdout=subprocess.DEVNULL)
    sizes = [] if args.no_pack else [int(n) for n in args.rss_rows.split(",") if n] + [args.rows]
    print("| rows | processes | wall s | CPU s | rows/s (wall) | peak RSS (largest process) |\n|---|---|---|---|---|---|",
          flush=True)
    for rows in sizes:
        cfg = config(work, model, rows)
        for n in (1, 2):
            secs, cpu, rss = run([*mgt, "data", "pack", str(cfg), "-o", str(work / f"cache-{rows}-{n}"),
                                  "--num-proc", str(n)])
            print(f"| {rows:,} | {n} | {secs:.1f} | {cpu:.1f} | {rows / secs:,.0f} | {rss} MiB |", flush=True)
    if not args.rounds:
        return
    cfg = config(work, model, args.rows)
    runs = {"raw file": [], "cache": []}
    for _ in range(args.rounds):
        for name, extra in (("raw file", []), ("cache", [f"data.packed={work / f'cache-{args.rows}-2'}"])):
            out = work / f"out-{name.split()[0]}"
            shutil.rmtree(out, ignore_errors=True)  # a previous round's metrics.jsonl would end the wait at once
            runs[name].append(first_step([*mgt, "train", str(cfg), f"train.output_dir={out}", *extra], out))
    print(f"\n| {args.rows:,} rows: launch -> first step | wall s (each round) | CPU s (each round) | peak RSS |"
          "\n|---|---|---|---|")
    for name, got in runs.items():
        print(f"| train from {name} | {', '.join(f'{w:.1f}' for w, _, _ in got)} | "
              f"{', '.join(f'{c:.1f}' for _, c, _ in got)} | {max(r for *_, r in got)} MiB |")
    raw, cached = (sorted(w for w, _, _ in runs[k])[len(runs[k]) // 2] for k in runs)
    print(f"\ncache starts {raw / cached:.1f}x sooner (median wall)")


if __name__ == "__main__":
    main()
