"""mgtrainer.env.ensure()/python(): the API other layers call to run in a backend's env."""

import subprocess

import pytest

from conftest import REPO, make_profile
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
