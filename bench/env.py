"""Benchmark: building a profile's env with mgtrainer (uv) versus `pip install -r` of the same lock.

    python bench/env.py [--profile train] [--skip-pip]

Same run, same machine, same package sources (pip's config; mgtrainer translates it for uv):
  mgtrainer cold   `python -m mgtrainer.env build P` with an empty uv cache (UV_CACHE_DIR=tmp) and empty MGT_HOME
  mgtrainer warm   the same command again (env already built: no uv, no network)
  mgtrainer rebuild  env removed, uv cache kept (a changed lock whose packages are mostly cached)
  pip cold         `python -m venv` + `pip install -r` of the same lock as installed here, empty pip cache
Prints a table of seconds and ratios against pip cold. Timings only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(cmd: list[str], env: dict, label: str) -> float:
    return run_timed(cmd, env, label)[0]


def run_timed(cmd: list[str], env: dict, label: str) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode:
        sys.exit(f"{label} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}")
    print(f"  {label}: {seconds:.2f} s", file=sys.stderr, flush=True)
    return seconds, proc.stdout


def build_row(name: str, cmd: list[str], env: dict) -> tuple[str, float, str]:
    """A cold build: its time, and the per-step split from the env's ready marker."""
    import json

    seconds, out = run_timed(cmd, env, name)
    steps = json.loads((Path(out.strip().splitlines()[-1]) / ".mgt" / "ready.json").read_text())["steps"]
    return name, seconds, ", ".join(f"{k} {v:.1f}" for k, v in steps.items())


def install_only(row: tuple[str, float, str]) -> tuple[str, float, str]:
    """The part of a build that does pip's job (venv + install), without the import checks."""
    steps = dict(part.split() for part in row[2].split(", "))
    return f"  {row[0].split(' (')[0]}: venv + install only", float(steps["venv"]) + float(steps["install"]), \
        "what pip's row does"


def pip_lock(profile: str, out: Path) -> Path:
    """The lock exactly as mgtrainer installs it here (torch +cpu, excludes dropped)."""
    from mgtrainer.env.build import derived_requirements
    from mgtrainer.env.profiles import load_profile, machine_torch_build

    prof = load_profile(profile)
    build = machine_torch_build()
    text, _ = derived_requirements(prof, prof.lock_file(build), build)
    out.write_text(text)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="train")
    ap.add_argument("--skip-pip", action="store_true", help="leave out the (slow) pip row")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mgt-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "MGT_HOME": str(tmp / "home"), "UV_CACHE_DIR": str(tmp / "uv-cache")}
        build = [sys.executable, "-m", "mgtrainer.env", "build", args.profile]
        rows.append(build_row("mgtrainer cold (empty uv cache)", build, env))
        warm = min(timed(build, env, "warm") for _ in range(3))
        rows.append(("mgtrainer warm (built: no uv, no network)", warm, "best of 3"))
        shutil.rmtree(tmp / "home" / "envs")
        rows.append(build_row("mgtrainer rebuild (uv cache kept)", build, env))
        if not args.skip_pip:
            lock = pip_lock(args.profile, tmp / "lock.txt")
            venv = tmp / "pip-venv"
            pip_env = {**os.environ, "PIP_CACHE_DIR": str(tmp / "pip-cache")}
            seconds = timed([sys.executable, "-m", "venv", str(venv)], pip_env, "pip venv")
            seconds += timed([str(venv / "bin" / "pip"), "install", "-q", "-r", str(lock)], pip_env, "pip install")
            rows.append(("pip cold (venv + pip install -r, empty cache)", seconds, "no import checks"))
        rows[3:3] = [install_only(rows[0]), install_only(rows[2])]
        print_table(args.profile, rows)  # before the (slow) removal of the temp folders


def print_table(profile: str, rows: list[tuple[str, float, str]]) -> None:
    pip = next((r[1] for r in rows if r[0].startswith("pip cold")), None)
    print(f"\nenv build benchmark, profile {profile} ({os.cpu_count()} CPUs)\n")
    print(f"| {'what':<48} | {'seconds':>8} | {'pip / this':>10} | steps (s) |")
    print(f"|{'-' * 50}|{'-' * 10}|{'-' * 12}|---|")
    for name, seconds, note in rows:
        ratio = f"{pip / seconds:.1f}x" if pip else "-"
        print(f"| {name:<48} | {seconds:>8.2f} | {ratio:>10} | {note} |")


if __name__ == "__main__":
    main()
