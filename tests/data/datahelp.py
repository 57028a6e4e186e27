"""Shared paths for the data-layer tests: the real public files live in ../shared/data beside the repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BAD = Path(__file__).resolve().parent / "bad"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real command line in a fresh interpreter: `python -m mgtrainer ...`."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "mgtrainer", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, timeout=120)
