"""`data pack` throughput and time-to-first-step from the cache vs the raw files; prints a table.

    python bench/pack.py --rows 1000000 [--model DIR] [--work /tmp/mgt-pack-bench]

Generates an alpaca JSONL of --rows rows in --work (never commit it), packs it with 1 and 2 processes
(rows/s, peak RSS of the largest process), then starts `mgtrainer train` from the raw file and from the
cache and times launch -> the first logged step (metrics.jsonl). A tiny model is made when --model is
not given. Numbers, not assertions: references/scale.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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


def run(argv: list[str]) -> tuple[float, int]:
    """(seconds, peak RSS MiB of the largest process) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(argv)}\n{proc.stderr.read()[-2000:]}")
    return time.perf_counter() - t0, usage.ru_maxrss // 1024


def first_step(argv: list[str], out: Path, limit: float = 3600) -> float:
    """Seconds from launch until metrics.jsonl holds a loss (the process is then stopped)."""
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
    proc.wait()
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--model")
    ap.add_argument("--work", default="/tmp/mgt-pack-bench")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    mgt = [sys.executable, "-m", "mgtrainer"]
    model = args.model or str(work / "tiny")
    if not args.model and not (work / "tiny" / "config.json").is_file():
        subprocess.run([*mgt, "model", "tiny", model], env=ENV, check=True, stdout=subprocess.DEVNULL)
    data = work / f"sft-{args.rows}.jsonl"
    if not data.is_file():
        generate(data, args.rows)
    cfg = work / "run.yaml"
    cfg.write_text(json.dumps({"task": "sft", "model": {"name_or_path": model},
                               "data": {"train": [str(data)], "cutoff_len": 128},
                               "train": {"max_steps": 1, "logging_steps": 1, "preview_samples": 0,
                                         "per_device_train_batch_size": 8, "overwrite_output_dir": True}}))
    rows = []
    for n in (1, 2):
        secs, rss = run([*mgt, "data", "pack", str(cfg), "-o", str(work / f"cache{n}"), "--num-proc", str(n)])
        rows.append((f"data pack, {n} process{'es' if n > 1 else ''}", secs, f"{args.rows / secs:,.0f} rows/s",
                     f"{rss} MiB"))
    for name, extra in (("train from raw file", []), ("train from cache", [f"data.packed={work / 'cache2'}"])):
        out = work / name.split()[-1]
        secs = first_step([*mgt, "train", str(cfg), f"train.output_dir={out}", *extra], out)
        rows.append((f"{name}: launch -> first step", secs, "", ""))
    print(f"| {args.rows:,} rows | seconds | throughput | peak RSS (largest process) |\n|---|---|---|---|")
    for name, secs, rate, rss in rows:
        print(f"| {name} | {secs:.1f} | {rate} | {rss} |")
    raw, cached = rows[-2][1], rows[-1][1]
    print(f"\ncache starts {raw / cached:.1f}x sooner")


if __name__ == "__main__":
    main()
