#!/usr/bin/env python
"""Benchmark: convert a generated alpaca JSONL to OpenAI messages JSONL.

Compares, in one run, mgtrainer's streaming converter (`mgtrainer.data.convert.convert`: every row
validated, converted to a Record and written back) against a naive approach that json-loads the
whole file, converts in memory and dumps it. Each approach runs in its own child process so its
peak RSS (ru_maxrss) is its own. Two file sizes show whether memory grows with the file.

    python bench/convert.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the of and to in a is that for it as was with be by on not he this are or his from at".split()


def generate(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(rows):
            row = {"instruction": " ".join(rng.choices(WORDS, k=12)) + f" #{i}",
                   "input": " ".join(rng.choices(WORDS, k=6)) if i % 3 == 0 else "",
                   "output": " ".join(rng.choices(WORDS, k=30))}
            if i % 10 == 0:
                row["system"] = "You are a helpful assistant."
            fh.write(json.dumps(row) + "\n")


STREAMING = """
import sys
sys.path.insert(0, {root!r})
from mgtrainer.data.convert import convert
print(convert({src!r}, {dst!r}, "messages"))
"""

NAIVE = """
import json
rows = [json.loads(line) for line in open({src!r}, encoding="utf-8")]
out = []
for r in rows:
    msgs = [{{"role": "system", "content": r["system"]}}] if r.get("system") else []
    user = "\\n".join(x for x in (r["instruction"], r.get("input")) if x)
    msgs += [{{"role": "user", "content": user}}, {{"role": "assistant", "content": r["output"]}}]
    out.append({{"messages": msgs}})
with open({dst!r}, "w", encoding="utf-8") as fh:
    fh.write("".join(json.dumps(o, ensure_ascii=False) + "\\n" for o in out))
print(len(out))
"""


def run(code: str, **kw) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS MiB, rows) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code.format(root=str(ROOT), **kw)], stdout=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    out = proc.stdout.read().decode().strip()
    if status != 0:
        raise SystemExit(f"child failed ({status}): {out}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, int(out.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keep", help="folder for the generated files (default: a temp folder, removed)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = []
        for rows in sorted({max(args.rows // 4, 1), args.rows}):
            src = work / f"alpaca_{rows}.jsonl"
            generate(src, rows)
            mib = src.stat().st_size / 2**20
            for name, code in (("mgtrainer streaming", STREAMING), ("naive json.load-all", NAIVE)):
                dst = work / f"out_{rows}_{name.split()[0]}.jsonl"
                secs, cpu, rss, n = run(code, src=str(src), dst=str(dst))
                assert n == rows, (n, rows)
                results.append((name, rows, mib, secs, rows / secs, rows / cpu, rss))
                dst.unlink()
            src.unlink()
    load = os.getloadavg()[0]
    print(f"\nalpaca JSONL -> messages JSONL (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {load:.1f} at the end)\n")
    print("| approach | rows | input MiB | wall s | rows/s (wall) | rows/s (CPU time) | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rows, mib, secs, rate, cpu_rate, rss in results:
        print(f"| {name} | {rows:,} | {mib:.0f} | {secs:.1f} | {rate:,.0f} | {cpu_rate:,.0f} | {rss:.0f} |")
    print("\nrows/s (CPU time) divides by the child's user+sys time: on a shared, loaded machine the wall "
          "rate mostly measures the other processes.")


if __name__ == "__main__":
    main()
