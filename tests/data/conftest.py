"""Data-layer test helpers: `cli` runs the real command line in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real command line in a fresh interpreter: `python -m mgtrainer ...`."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "mgtrainer", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, timeout=120)


@pytest.fixture(scope="session")
def cli():
    return run_cli
