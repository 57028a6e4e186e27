"""Heavy: build the real profiles from their checked-in locks (in MGT_HOME, reused when warm) and run
`mgtrainer env doctor` inside each; and bootstrap the light core from nothing but Python."""

import os
import subprocess
import sys

import pytest

from envkit import REPO, env_cmd

pytestmark = pytest.mark.heavy


@pytest.mark.parametrize("profile", ["train", "dev", "serve", "llamafactory"])
def test_real_profile_builds_and_doctor_passes(profile):
    assert (REPO / "env" / profile / "requirements.txt").is_file(), f"env/{profile}/ has no lock"
    built = env_cmd("build", profile, timeout=2400)
    env = built.stdout.strip().splitlines()[-1]
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "env", "doctor", profile], capture_output=True,
                          text=True, cwd=REPO, timeout=1200, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{env}/bin/python" in proc.stdout  # the doctor ran inside the env
    assert "versions vs lock" in proc.stdout and "FAIL" not in proc.stdout


def test_bootstrap_script_needs_only_python(tmp_path):
    """A fresh MGT_HOME: _bootstrap.sh pip-installs the light core, then builds a tiny profile."""
    from envkit import make_profile

    prof = make_profile(tmp_path / "profiles")
    env = {**os.environ, "MGT_HOME": str(tmp_path / "home")}
    script = f'source "{REPO}/script/env/_bootstrap.sh" && mgt_env build -q "{prof}" && mgt --version'
    for _ in range(2):  # the second run reuses the bootstrap venv and the env
        proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.strip().splitlines()
        assert lines[0].startswith(str(tmp_path / "home" / "envs" / "tiny-")) and lines[1].startswith("mgtrainer ")
    assert len(list((tmp_path / "home" / "bootstrap").iterdir())) == 1
