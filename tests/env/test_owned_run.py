"""The launcher owns what it runs (mgtrainer.env.run_owned, behind `env run` and every re-run in an env):
exit codes pass, signals sent to it reach the child, and the child dies with it, even on kill -9.
And `mgt` from _bootstrap.sh works in a folder that holds a folder named `mgtrainer`. Real processes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The child: writes its pid, says which signal ended it (exit 128 + N), or exits with argv[2].
CHILD = r"""
import os, signal, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
def bye(signum, frame):
    open(sys.argv[1] + ".sig", "w").write(str(signum))
    sys.exit(128 + signum)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, bye)
if len(sys.argv) > 2:
    sys.exit(int(sys.argv[2]))
time.sleep(60)
"""

LAUNCHER = ("import sys; from mgtrainer.env import run_owned; "
            "sys.exit(run_owned([sys.executable, '-c', sys.argv[1], *sys.argv[2:]]))")


def launch(tmp_path, *extra):
    pidfile = tmp_path / "child.pid"
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, CHILD, str(pidfile), *extra], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL)
    return proc, pidfile


def child_pid(pidfile: Path, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pidfile.is_file() and pidfile.read_text():
            return int(pidfile.read_text())
        time.sleep(0.05)
    raise AssertionError("the child never started")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_exit_code_passes(tmp_path):
    proc, _ = launch(tmp_path, "7")
    assert proc.wait(60) == 7


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_to_the_launcher_reach_the_child_and_its_code_comes_back(tmp_path, sig):
    proc, pidfile = launch(tmp_path)
    pid = child_pid(pidfile)
    proc.send_signal(sig)
    assert proc.wait(30) == 128 + sig  # the child's own exit, passed through
    assert (tmp_path / "child.pid.sig").read_text() == str(int(sig))
    assert gone_within(pid, 10)


def test_a_child_killed_from_outside_is_named_with_the_out_of_memory_hint(tmp_path):
    """kill -9 of the trainer (what the kernel's OOM killer sends): the launcher says how it ended, the likely
    cause with the peak RSS it saw, and that `auto` resumes; exit 137."""
    pidfile = tmp_path / "child.pid"
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, CHILD, str(pidfile)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    os.kill(child_pid(pidfile), signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 137
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"mgtrainer: {Path(sys.executable).name} was killed by signal 9 (SIGKILL) from outside; "
                           "the kernel's out-of-memory killer does this when memory runs out (peak RSS "), line
    assert " MiB here; `dmesg | grep -i oom` tells)" in line and "resume_from_checkpoint: auto" in line


def test_child_dies_with_a_killed_launcher(tmp_path):
    proc, pidfile = launch(tmp_path)
    pid = child_pid(pidfile)
    proc.kill()
    proc.wait(30)
    assert gone_within(pid, 10), "the child outlived its kill -9'd launcher (an orphan)"
    assert (tmp_path / "child.pid.sig").read_text() == str(int(signal.SIGTERM))  # so a trainer checkpoints


def test_mgt_works_in_a_folder_holding_a_folder_named_mgtrainer(tmp_path):
    shadow = tmp_path / "mgtrainer"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise SystemExit('the wrong mgtrainer was imported')\n")
    script = (f'source "{REPO}/script/env/_bootstrap.sh" && mgt --version && '
              'mgt_env --help >/dev/null && echo env-ok')
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("mgtrainer ") and "env-ok" in proc.stdout
    # and a bare `python -m mgtrainer` there does pick the shadow: the test is not vacuous
    bare = subprocess.run([sys.executable, "-m", "mgtrainer", "--version"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert bare.returncode != 0 and "wrong mgtrainer" in bare.stderr
