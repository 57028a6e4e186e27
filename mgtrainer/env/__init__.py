"""Per-backend uv environments built on demand (see references/env.md).

    python(profile) -> Path        the built env's interpreter (builds it first if needed)
    ensure(profile, modules, argv) -> int | None
        None when `modules` import here; else runs `python -m mgtrainer *argv` in the profile's env
        (building it first) and returns its exit code.
    run(profile, cmd) -> int       runs a command inside the env, returns its exit code
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

from mgtrainer.errors import MgtError

__all__ = ["python", "ensure", "run", "env_path"]


def env_path(profile: str, quiet: bool = False) -> Path:
    """The built env's folder (building it first if needed)."""
    from mgtrainer.env.build import ensure_built
    from mgtrainer.env.profiles import load_profile

    return ensure_built(load_profile(profile), quiet=quiet)


def python(profile: str) -> Path:
    """The interpreter of `profile`'s env, building the env on demand."""
    return env_path(profile) / "bin" / "python"


def run(profile: str, cmd: list[str]) -> int:
    """Run `cmd` with the env's bin/ first on PATH (VIRTUAL_ENV and MGT_ENV set); its exit code."""
    import shutil

    from mgtrainer.env.build import run_env
    from mgtrainer.env.profiles import load_profile

    if not cmd:
        raise MgtError("<command line>:1: no command to run; expected `mgtrainer env run PROFILE -- CMD ...`")
    env = env_path(profile)
    exe = shutil.which(cmd[0], path=str(env / "bin")) or cmd[0]
    try:
        proc = subprocess.run([exe, *cmd[1:]], env=run_env(env, load_profile(profile).name))
    except FileNotFoundError:
        raise MgtError(f"<command line>:1: command not found ({cmd[0]}); expected a program in {env}/bin or on PATH") from None
    return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode


def ensure(profile: str, modules: list[str], argv: list[str]) -> int | None:
    """None if `modules` import in this interpreter; else the exit code of `python -m mgtrainer *argv`
    run in `profile`'s env (built on demand)."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - ImportError, or a broken build (OSError, RuntimeError)
            missing.append(f"{name} ({type(err).__name__}: {err})")
    if not missing:
        return None
    if os.environ.get("MGT_ENV") == Path(str(profile)).name:
        raise MgtError(f"{sys.prefix}:1: already in env {profile} but cannot import {', '.join(missing)}; "
                       f"expected the env to provide them (try `mgtrainer env doctor {profile}`)")
    print(f"mgtrainer: {', '.join(m.split(' ')[0] for m in missing)} not importable here; "
          f"running in the {profile} env", file=sys.stderr, flush=True)
    return run(profile, ["python", "-m", "mgtrainer", *argv])
