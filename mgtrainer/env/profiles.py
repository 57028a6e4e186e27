"""Env profiles (env/<profile>/: requirements.in, requirements[-cuda].txt, profile.toml) and their keys.

A built env lives in MGT_HOME/envs/<profile>-<key>, where the key hashes everything that decides its
contents: the lock, profile.toml, the Python version, the platform, the torch build (cpu/cuda) and,
with install_self, the checkout it points at. Same inputs -> same folder -> reused as is.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from mgtrainer.errors import MgtError

REPO_ROOT = Path(__file__).resolve().parents[2]
RECIPE_VERSION = "2"  # bump when the build recipe changes what a built env contains
KNOBS = {
    "description": str, "requires": list, "doctor_requires": list, "smoke": list, "exclude": list,
    "dist_aliases": dict, "stub_modules": list, "install_self": bool, "size_mib": int,
}
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")


@dataclass
class Profile:
    name: str
    dir: Path
    description: str = ""
    requires: list[str] = field(default_factory=list)
    doctor_requires: list[str] = field(default_factory=list)
    smoke: list[list[str]] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    dist_aliases: dict[str, str] = field(default_factory=dict)
    stub_modules: list[str] = field(default_factory=list)
    install_self: bool = False
    size_mib: int = 0  # what a built env of this profile takes on disk (measured; 0 = unknown)

    def lock_file(self, torch_build: str | None = None) -> Path:
        """The lock for this machine: requirements-cuda.txt where an NVIDIA driver is and it exists."""
        cuda = self.dir / "requirements-cuda.txt"
        if (torch_build or machine_torch_build()) == "cuda" and cuda.is_file():
            return cuda
        return self.dir / "requirements.txt"

    def excluded(self, torch_build: str) -> set[str]:
        """Canonical names of the packages left out on purpose on this machine (exclude applies on CPU)."""
        return {canonical(n) for n in self.exclude} if torch_build == "cpu" else set()


def profiles_dir() -> Path:
    return Path(os.environ.get("MGT_PROFILES") or REPO_ROOT / "env")


def list_profiles() -> list[str]:
    root = profiles_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "requirements.txt").is_file() or (p / "requirements.in").is_file())


def load_profile(name_or_path: str | os.PathLike) -> Profile:
    """A profile by name (env/<name>/) or by the path of its folder."""
    text = str(name_or_path)
    folder = Path(text) if ("/" in text or text.startswith(".")) else profiles_dir() / text
    if not folder.is_dir():
        known = ", ".join(list_profiles()) or "none"
        raise MgtError(f"{folder}:1: no such env profile ({text}); expected one of: {known}")
    toml_path = folder / "profile.toml"
    knobs = {}
    if toml_path.is_file():
        try:
            knobs = tomllib.loads(toml_path.read_text())
        except tomllib.TOMLDecodeError as err:
            line = re.search(r"line (\d+)", str(err))
            raise MgtError(f"{toml_path}:{line.group(1) if line else 1}: {err}; expected TOML") from None
        for key, value in knobs.items():
            if key not in KNOBS:
                raise MgtError(f"{toml_path}:1: unknown knob ({key}); expected one of {', '.join(KNOBS)}")
            if not isinstance(value, KNOBS[key]):
                raise MgtError(f"{toml_path}:1: {key} is {type(value).__name__}; expected {KNOBS[key].__name__}")
    return Profile(name=folder.resolve().name, dir=folder.resolve(), **knobs)


def machine_torch_build() -> str:
    """"cuda" where an NVIDIA driver is present, else "cpu"; MGT_TORCH=cpu|cuda overrides."""
    forced = os.environ.get("MGT_TORCH", "").lower()
    if forced in ("cpu", "cuda"):
        return forced
    if forced:
        raise MgtError(f"MGT_TORCH:1: unknown torch build ({forced}); expected cpu or cuda")
    if os.path.exists("/proc/driver/nvidia") or shutil.which("nvidia-smi"):
        return "cuda"
    return "cpu"


def env_key(profile: Profile, torch_build: str | None = None) -> str:
    """Hash of what decides a built env's contents (see the module docstring)."""
    build = torch_build or machine_torch_build()
    lock = profile.lock_file(build)
    if not lock.is_file():
        raise MgtError(f"{lock}:1: profile {profile.name} has no lock; expected one: run `mgtrainer env lock {profile.name}`")
    digest = hashlib.sha256()
    toml_path = profile.dir / "profile.toml"
    parts = [RECIPE_VERSION, lock.name, lock.read_bytes(), toml_path.read_bytes() if toml_path.is_file() else b"",
             python_tag(), sys.platform, platform.machine(), build,
             str(REPO_ROOT) if profile.install_self else ""]
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def python_tag() -> str:
    """Python the envs are built with: $MGT_PYTHON's version if set, else this interpreter's."""
    if os.environ.get("MGT_PYTHON"):
        return "py@" + os.environ["MGT_PYTHON"]
    return f"{sys.implementation.name}-{platform.python_version()}"


def base_python() -> str:
    return os.environ.get("MGT_PYTHON") or sys.executable


def envs_root() -> Path:
    from mgtrainer.env.sources import mgt_home

    return mgt_home() / "envs"


def env_dir(profile: Profile, torch_build: str | None = None) -> Path:
    return envs_root() / f"{profile.name}-{env_key(profile, torch_build)}"


def read_pins(lock: Path | str) -> dict[str, str]:
    """name -> pinned version from a requirements lock (a file, or its text) (`name==version` lines)."""
    pins = {}
    for line in (lock.read_text() if isinstance(lock, Path) else lock).splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)", line.strip())
        if m:
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
