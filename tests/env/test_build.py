"""Real uv, real venvs: build a tiny profile, reuse it without uv, rebuild on a changed lock,
survive concurrent and killed builds."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from envkit import REPO, env_cmd, make_profile


def _built(proc) -> Path:
    return Path(proc.stdout.strip().splitlines()[-1])


def test_build_installs_lock_and_applies_knobs(mgt_home, tiny):
    env = _built(env_cmd("build", str(tiny)))
    assert env.parent == mgt_home / "envs" and env.name.startswith("tiny-")
    assert (env / ".mgt" / "ready.json").is_file()
    py = env / "bin" / "python"
    code = ("import importlib.metadata as m, fakecuda, tqdm; "
            "print(tqdm.__version__, m.version('tqdm-alias'), fakecuda.__version__)")
    out = subprocess.run([py, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["4.70.1", "4.70.1", "0.0.0+mgtrainer.stub"]
    # exclude: colorama is in the lock but never installed on a CPU machine
    assert subprocess.run([py, "-c", "import colorama"], capture_output=True).returncode != 0
    # built in a temp folder and renamed: the relocatable entry point still runs from the final path
    assert subprocess.run([env / "bin" / "tqdm", "--version"], capture_output=True, text=True).stdout.strip() == "4.70.1"
    # bytecode compiled at the temp path: code objects still name the final path after the rename
    pyc = list(env.glob("lib/python*/site-packages/tqdm/__pycache__/std.*.pyc"))
    assert pyc
    code = "import tqdm.std as s; print(s.trange.__code__.co_filename)"
    out = subprocess.run([py, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out.startswith(str(env) + "/")
    assert not list((mgt_home / "envs" / ".tmp").iterdir())


def test_warm_build_does_not_run_uv(mgt_home, tiny, tmp_path):
    first = _built(env_cmd("build", str(tiny)))
    fake = tmp_path / "fakebin"
    fake.mkdir()
    called = tmp_path / "uv-was-called"
    (fake / "uv").write_text(f"#!/bin/sh\ntouch {called}\nexit 1\n")
    (fake / "uv").chmod(0o755)
    no_uv = {"PATH": str(fake), "MGT_UV": str(fake / "uv"), "UV_OFFLINE": "1"}
    started = time.perf_counter()
    again = env_cmd("build", str(tiny), env=no_uv)
    print(f"warm build: {time.perf_counter() - started:.2f} s")
    assert _built(again) == first
    assert not called.exists()
    # and `env run` passes the exit code through, env's bin/ first on PATH
    proc = env_cmd("run", str(tiny), "--", "python", "-c", "import sys, tqdm; sys.exit(7)", env=no_uv, check=False)
    assert proc.returncode == 7, proc.stderr


def test_changed_lock_builds_a_new_env_and_clean_removes_the_old(mgt_home, tiny):
    old = _built(env_cmd("build", str(tiny)))
    make_profile(tiny.parent, pin="tqdm==4.67.1")
    new = _built(env_cmd("build", str(tiny)))
    assert new != old and old.exists()
    out = subprocess.run([new / "bin" / "python", "-c", "import tqdm; print(tqdm.__version__)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "4.67.1"
    env_cmd("clean", str(tiny))
    assert new.exists() and not old.exists()


def test_concurrent_builds_give_one_good_env(mgt_home, tiny, tmp_path):
    counter = tmp_path / "builds.txt"
    env = {**os.environ, "MGT_TEST_COUNTER": str(counter)}
    cmd = [sys.executable, "-m", "mgtrainer.env", "build", str(tiny)]
    procs = [subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    paths = {o[0].strip() for o in outs}
    assert len(paths) == 1
    assert counter.read_text().count("built") == 1  # one build; the other process waited and reused it
    envs = [p for p in (mgt_home / "envs").iterdir() if not p.name.startswith(".")]
    assert envs == [Path(paths.pop())]


def test_killed_build_leaves_nothing_ready_and_is_rebuilt(mgt_home, tiny, tmp_path):
    stalled = tmp_path / "stalled"
    env = {**os.environ, "MGT_TEST_SLOW": str(stalled)}
    proc = subprocess.Popen([sys.executable, "-m", "mgtrainer.env", "build", "-q", str(tiny)], env=env, cwd=REPO,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not stalled.exists():  # the build is inside its smoke step: venv made, lock installed
            assert proc.poll() is None and time.time() < deadline, "build ended before it could be killed"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    envs = mgt_home / "envs"
    assert not list(envs.glob("*/.mgt/ready.json"))
    assert list((envs / ".tmp").iterdir())  # the half-built env is there, not looking ready
    built = _built(env_cmd("build", str(tiny)))
    assert (built / ".mgt" / "ready.json").is_file()
    assert not list((envs / ".tmp").iterdir())


def test_bad_profile_is_a_one_line_error(mgt_home, tmp_path):
    prof = make_profile(tmp_path)
    (prof / "profile.toml").write_text('requires = ["x"]\nexclude = "torchvision"\n')
    proc = env_cmd("build", str(prof), check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{prof / 'profile.toml'}:1: exclude is str; expected list"
    proc = env_cmd("build", "no-such-profile", check=False)
    assert proc.returncode == 2 and "no such env profile" in proc.stderr and "train" in proc.stderr


def test_failed_requires_fails_the_build_and_leaves_nothing(mgt_home, tmp_path):
    prof = make_profile(tmp_path)
    (prof / "profile.toml").write_text('requires = ["tqdm", "no_such_module_xyz"]\n')
    proc = env_cmd("build", "-q", str(prof), check=False)
    assert proc.returncode == 2 and "no_such_module_xyz" in proc.stderr
    assert not [p for p in (mgt_home / "envs").iterdir() if not p.name.startswith(".")]
    assert not list((mgt_home / "envs" / ".tmp").iterdir())


def test_a_build_onto_a_full_disk_warns_first_then_is_one_line_and_leaves_nothing(mount, uv, monkeypatch, tmp_path):
    """MGT_HOME on a 1 MiB tmpfs (uv's cache elsewhere, so uv copies the files): the build warns with the numbers
    before it starts, fails when the disk fills, says so in one line (exit 2) and leaves no half-built env."""
    home = mount(tmp_path / "small", 1)
    monkeypatch.setenv("MGT_HOME", str(home))
    monkeypatch.setenv("MGT_UV", uv)
    profile = make_profile(tmp_path / "profiles")
    with open(profile / "profile.toml", "a") as fh:
        fh.write("size_mib = 40\n")
    with open(profile / "requirements.txt", "a") as fh:
        fh.write("pygments==2.21.0\n")  # ~9 MiB installed (a pin of every real lock, so usually in uv's cache)
    proc = env_cmd("build", str(profile), check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert any(line.startswith(f"mgtrainer: warning: {home / 'envs'} has ") and "MiB free; a built tiny env takes "
               "about 40 MiB" in line for line in lines), lines
    assert lines[-1].startswith(f"{home / 'envs'}: cannot write (no space left on the device) while building env "
                                "tiny; "), lines[-1]
    assert "a built tiny env takes about 40 MiB; expected free space there" in lines[-1]
    assert not [p for p in (home / "envs").iterdir() if p.name.startswith("tiny-")]
    assert not list((home / "envs" / ".tmp").iterdir())
