"""The README's install path: `bash script/install.sh` puts a working `mgtrainer` on PATH (a temp HOME).

It bootstraps the light core into HOME's cache (a venv of its own: pip installs this checkout editable
with the core deps), so it takes the time of that pip install (~10-30 s), not of any backend env.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.heavy
def test_install_puts_a_working_mgtrainer_on_path(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    for conf in (".config/pip/pip.conf", ".pip/pip.conf"):  # the user's package sources come along
        if (Path.home() / conf).is_file():
            (home / conf).parent.mkdir(parents=True)
            shutil.copy(Path.home() / conf, home / conf)
    py = os.path.realpath(shutil.which("python3") or sys.executable)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MGT_", "VIRTUAL_ENV", "XDG_"))}
    env |= {"HOME": str(home), "MGT_BOOTSTRAP_PYTHON": py, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(["bash", str(REPO / "script" / "install.sh")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    shim = home / ".local" / "bin" / "mgtrainer"
    assert os.access(shim, os.X_OK)
    assert f"{home}/.local/bin is not on PATH" in out.stdout  # it says how to add it
    env["PATH"] = f"{shim.parent}:/usr/bin:/bin"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mgtrainer").mkdir()  # a folder named like the package must not shadow it (-P)
    ver = subprocess.run(["mgtrainer", "--version"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert ver.returncode == 0 and ver.stdout.startswith("mgtrainer "), ver.stdout + ver.stderr
    listed = subprocess.run(["mgtrainer", "recipes"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "serve-chat" in listed.stdout and "classify-intents" in listed.stdout
    again = subprocess.run(["bash", str(REPO / "script" / "install.sh")], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "not on PATH" not in again.stdout  # re-running is harmless
