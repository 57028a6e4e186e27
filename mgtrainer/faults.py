"""Faults of the machine, not of the user's input: a full disk, a quota, a read-only or unwritable folder, an I/O
error. Libraries report them in their own words (OSError with an errno; safetensors' "No space left on device (os
error 28)"; torch's zip writer "unexpected pos" when a write came up short), often many frames deep. `machine_fault`
turns any of them into one line: what could not be written, where, the free space there, and what to do.

    machine_fault(exc, where=None) -> str | None     None: not a machine fault (let it show as it is); with
                                                     `where` (the run's folder), also that folder removed mid-run
    free_mib(path) -> int | None                     free space of the file system holding path
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

WHAT = {errno.ENOSPC: ("no space left on the device", "free space there (or point the output elsewhere), then run "
                                                        "again: `resume_from_checkpoint: auto` continues from the last "
                                                        "complete checkpoint"),
        errno.EDQUOT: ("disk quota exceeded", "room under the quota, then run again (`resume_from_checkpoint: auto`)"),
        errno.EROFS: ("read-only file system", "a writable folder"),
        errno.EACCES: ("permission denied", "a folder this user may write"),
        errno.EPERM: ("operation not permitted", "a folder this user may write"),
        errno.EIO: ("I/O error (the disk or the network file system failed)", "a healthy disk; check `dmesg`")}
# how libraries that do not raise OSError say ENOSPC / EIO
WORDS = (("No space left on device", errno.ENOSPC), ("os error 28", errno.ENOSPC), ("unexpected pos", errno.ENOSPC),
         ("Disk quota exceeded", errno.EDQUOT), ("os error 122", errno.EDQUOT), ("Read-only file system", errno.EROFS),
         ("os error 30", errno.EROFS), ("Input/output error", errno.EIO), ("os error 5", errno.EIO))


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _code(exc: BaseException) -> tuple[int, str | None] | None:
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in WHAT:
            return e.errno, e.filename
        for words, code in WORDS:
            if words in str(e):
                return code, None
    return None


def _removed(exc: BaseException, where) -> str | None:
    """A file of the run not found because its output folder is gone (removed while the run wrote into it)."""
    gone = where is not None and not Path(where).exists()
    return folder_removed(where) if gone and any(isinstance(e, FileNotFoundError) for e in _chain(exc)) else None


def folder_removed(where) -> str:
    return (f"{where}: the output folder was removed while the run wrote into it (train.output_dir); expected it "
            "kept until the run ends (its checkpoints went with it: the run starts over)")


def free_mib(path) -> int | None:
    """Free MiB of the file system holding path (its nearest existing parent); None if it cannot be read."""
    path = Path(path)
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free >> 20
            except OSError:
                return None
    return None


def machine_fault(exc: BaseException, where: str | os.PathLike | None = None) -> str | None:
    """One line for a machine fault anywhere in exc's chain, else None. `where`: the folder being written (the
    run's output_dir) when the library did not say which file."""
    found = _code(exc)
    if found is None:
        return _removed(exc, where)
    code, filename = found
    place = filename or where or "the output"
    what, fix = WHAT[code]
    free = free_mib(place) if code in (errno.ENOSPC, errno.EDQUOT) else None
    room = f"; {free} MiB free there" if free is not None else ""
    return f"{place}: cannot write ({what}){room}; expected {fix}"
