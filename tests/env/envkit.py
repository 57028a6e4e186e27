"""Env-layer test helpers (a module with its own name: `from conftest import` is ambiguous across test folders)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The smoke command counts builds (MGT_TEST_COUNTER) and can stall one (MGT_TEST_SLOW) so a test can
# kill it mid-build; neither variable is part of the env's key.
SMOKE = ("import os, time\n"
         "c = os.environ.get('MGT_TEST_COUNTER')\n"
         "c and open(c, 'a').write('built\\n')\n"
         "s = os.environ.get('MGT_TEST_SLOW')\n"
         "s and (open(s, 'w').close(), time.sleep(120))\n")

PROFILE_TOML = f"""description = "test-only profile: tqdm and the knobs"
requires = ["tqdm", "fakecuda"]
smoke = [["tqdm", "--version"], ["python", "-c", {SMOKE!r}]]
exclude = ["colorama"]
stub_modules = ["fakecuda"]
dist_aliases = {{ tqdm-alias = "tqdm" }}
"""


def make_profile(root: Path, pin: str = "tqdm==4.70.1", name: str = "tiny") -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.in").write_text("tqdm\n")
    (folder / "requirements.txt").write_text(f"# test lock\n{pin}\ncolorama==0.4.6\n")
    (folder / "profile.toml").write_text(PROFILE_TOML)
    return folder


def env_cmd(*args: str, env: dict | None = None, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run `python -m mgtrainer.env ARGS` (the env verbs) in a fresh process."""
    proc = subprocess.run([sys.executable, "-m", "mgtrainer.env", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=REPO, **kw)
    if check and proc.returncode:
        raise AssertionError(f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc
