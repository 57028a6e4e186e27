"""Atomic outputs: a file or folder appears whole under its final name, or not at all.

    write_text(path, text)          one text file (unique temp name beside it, fsync, rename)
    write_bytes(path, data)
    open_atomic(path, mode="w")     a context manager for writers that stream; renamed on a clean exit
    replace_dir(build, dest)        a folder built beside dest takes dest's place (the old one is kept
                                    under a temp name until the new one is in, then removed)
    temp_dir(dest)                  a fresh unique folder beside dest to build into
    sweep(folder)                   removes temp files and folders a killed process left in folder

Temp names start with `.mgt-tmp.` so `sweep` finds exactly what this module made (and nothing a user
wrote). Light: standard library only, importable by every layer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = ".mgt-tmp."

__all__ = ["write_text", "write_bytes", "open_atomic", "replace_dir", "temp_dir", "sweep", "PREFIX"]


def write_text(path, text: str, encoding: str = "utf-8") -> Path:
    with open_atomic(path, "w", encoding=encoding) as fh:
        fh.write(text)
    return Path(path)


def write_bytes(path, data: bytes) -> Path:
    with open_atomic(path, "wb") as fh:
        fh.write(data)
    return Path(path)


@contextlib.contextmanager
def open_atomic(path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None):
    """Open a unique temp file beside `path`; on a clean exit fsync and rename it onto `path`; on an
    exception remove it (the old `path`, if any, is untouched)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{PREFIX}{path.name}.")
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def temp_dir(dest) -> Path:
    """A fresh, unique folder beside `dest` (same filesystem, so `replace_dir` is a rename)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=dest.parent, prefix=f"{PREFIX}{dest.name}."))


def replace_dir(build, dest) -> Path:
    """Put the finished folder `build` at `dest`. An existing `dest` is renamed aside first and removed
    only after `build` is in place, so a crash leaves either the old or the new folder under `dest`."""
    build, dest = Path(build), Path(dest)
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f"{PREFIX}{dest.name}.old.")) / "x"
        os.replace(dest, old)
    os.replace(build, dest)
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)
    return dest


def sweep(folder) -> list[Path]:
    """Remove `PREFIX*` leftovers of killed processes directly inside `folder`; the removed paths.
    Only call it where this process owns the folder (e.g. under the run lock)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.glob(f"{PREFIX}*"):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        removed.append(p)
    return removed
