"""mgtrainer.env.ensure()/python(): the API other layers call to run in a backend's env."""

import subprocess

import pytest

from envkit import REPO, make_profile
from mgtrainer import env as mgt_env
from mgtrainer.env.profiles import read_pins

CORE = ("pydantic", "pydantic-core", "annotated-types", "typing-extensions", "typing-inspection", "pyyaml",
        "rich", "markdown-it-py", "mdurl", "pygments", "filelock", "platformdirs")


@pytest.fixture
def selfprof(tmp_path):
    """tiny + mgtrainer itself (install_self, no deps) + its light core pinned as in the train lock."""
    prof = make_profile(tmp_path / "profiles", name="withself")
    pins = read_pins(REPO / "env" / "train" / "requirements.txt")
    with open(prof / "requirements.txt", "a") as lock:
        lock.writelines(f"{name}=={pins[name]}\n" for name in CORE)
    (prof / "profile.toml").write_text((prof / "profile.toml").read_text() + "install_self = true\n")
    return prof


def test_python_builds_on_demand(mgt_home, selfprof):
    py = mgt_env.python(str(selfprof))
    assert py.is_relative_to(mgt_home)
    out = subprocess.run([py, "-c", "import mgtrainer, tqdm; print(mgtrainer.__version__)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip()


def test_ensure_runs_here_or_in_the_env(mgt_home, selfprof, capfd):
    assert mgt_env.ensure(str(selfprof), modules=["json"], argv=["--version"]) is None
    assert not (mgt_home / "envs").exists()  # importable here: nothing built
    # fakecuda exists only inside the env (a stub_modules stub): ensure re-runs the command there
    code = "import fakecuda, sys; print('inside', sys.prefix); sys.exit(5)"
    rc = mgt_env.ensure(str(selfprof), modules=["fakecuda"],
                        argv=["env", "run", str(selfprof), "--", "python", "-c", code])
    out = capfd.readouterr().out
    assert rc == 5
    assert f"inside {mgt_env.env_path(str(selfprof))}" in out


def test_doctor_runs_inside_and_catches_drift_from_the_lock(mgt_home, selfprof, uv):
    from envkit import env_cmd

    wide = {"COLUMNS": "200"}
    proc = env_cmd("doctor", str(selfprof), env=wide)
    env = mgt_env.env_path(str(selfprof))
    assert f"{env}/bin/python" in proc.stdout
    pins = len(read_pins(selfprof / "requirements.txt")) - 1  # colorama is excluded here
    assert f"{pins}/{pins} match requirements.txt" in proc.stdout
    subprocess.run([uv, "pip", "install", "-q", "--python", env / "bin" / "python", "tqdm==4.67.1"], check=True)
    proc = env_cmd("doctor", str(selfprof), env=wide, check=False)
    assert proc.returncode == 1
    assert "tqdm 4.67.1 (lock 4.70.1)" in proc.stdout


def test_status_lists_built_and_stale(mgt_home, selfprof, monkeypatch):
    from envkit import env_cmd

    monkeypatch.setenv("MGT_PROFILES", str(selfprof.parent))
    wide = {"COLUMNS": "250"}
    assert "not built" in env_cmd("status", env=wide).stdout
    mgt_env.env_path(str(selfprof), quiet=True)
    out = env_cmd("status", env=wide).stdout
    assert "withself" in out and "built" in out and "python3" in out
    (selfprof / "profile.toml").write_text((selfprof / "profile.toml").read_text() + "# changed\n")
    assert "stale" in env_cmd("status", env=wide).stdout


def test_doctor_imports_doctor_requires_which_the_build_leaves_out(mgt_home, selfprof):
    """Heavy stacks in doctor_requires do not slow the build (and cannot fail it); the doctor imports them."""
    from envkit import env_cmd

    toml = selfprof / "profile.toml"
    toml.write_text(toml.read_text() + 'doctor_requires = ["tqdm.contrib", "no_such_module_xyz"]\n')
    env = mgt_env.env_path(str(selfprof), quiet=True)
    assert (env / ".mgt" / "ready.json").is_file()
    proc = env_cmd("doctor", str(selfprof), env={"COLUMNS": "200"}, check=False)
    assert proc.returncode == 1
    assert "cannot import no_such_module_xyz" in proc.stdout and "tqdm.contrib" not in proc.stdout
    toml.write_text(toml.read_text().replace(', "no_such_module_xyz"', ""))
    proc = env_cmd("doctor", str(selfprof), env={"COLUMNS": "200"})
    assert "3 modules import" in proc.stdout  # requires tqdm, fakecuda + doctor_requires tqdm.contrib


def test_processes_in_an_env_write_bytecode(mgt_home, tiny, monkeypatch):
    """PYTHONDONTWRITEBYTECODE (set in many containers) would make every run in an env recompile its
    imports; `env run` turns it off so the first run leaves the .pyc in the env."""
    from envkit import env_cmd

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = mgt_env.env_path(str(tiny), quiet=True)
    pyc = "lib/python*/site-packages/tqdm/contrib/__pycache__/itertools.*.pyc"
    assert not list(env.glob(pyc))  # neither requires nor smoke import it
    code = "import sys, tqdm.contrib.itertools; assert not sys.dont_write_bytecode"
    env_cmd("run", str(tiny), "--", "python", "-c", code)
    assert list(env.glob(pyc))
