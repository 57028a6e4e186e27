"""File -> file conversion between formats (streaming, atomic, never over the input)."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Callable

from mgtrainer.data.base import RowError
from mgtrainer.data.fidelity import kind_of, losses
from mgtrainer.data.formats import FORMATS
from mgtrainer.data.loaders import iter_records
from mgtrainer.data.readers import check_exists, check_path
from mgtrainer.data.records import first_weighted
from mgtrainer.data.writers import RowWriter
from mgtrainer.errors import MgtError


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.exists() and b.samefile(a))
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return False


def check_output(dst: Path) -> None:
    """MgtError unless `dst` can become an output file: not a folder, not a looping link, under a folder."""
    check_path(dst, "-o")
    if dst.is_symlink() and not dst.exists():
        try:
            dst.stat()
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise MgtError(f"{dst}:1: output is a symbolic link loop (-o); expected a file path") from None
    if dst.is_dir():
        raise MgtError(f"{dst}:1: output is a folder (-o); expected a file path ending in .jsonl, .json, ...")
    for parent in dst.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise MgtError(f"{dst}:1: {parent} is not a folder (-o); expected an output path inside a folder")
            break


def convert(src: str | Path, dst: str | Path, to: str, format: str | None = None,
            tick: Callable[[int], None] | None = None, force: bool = False, lossy: bool = False,
            dropped: dict | None = None) -> int:
    """Write every record of `src` as a `to` row into `dst`; returns the row count.
    Any bad row stops the conversion with its FILE:LINE message and leaves no output behind, and so does a row
    the target format cannot hold whole (data/fidelity.py), unless `lossy`: then what was dropped is counted
    into `dropped` ({"messages[].name": rows}). An existing `dst` is replaced only with `force` (as
    `recipes copy --force`): it may be someone's data."""
    src, dst = Path(src), Path(dst)
    if to not in FORMATS:
        raise MgtError(f"unknown target format '{to}' (--to); expected one of {', '.join(FORMATS)}")
    check_exists(src, "IN")
    check_output(dst)
    if same_file(src, dst) or (src.is_dir() and dst.resolve().is_relative_to(src.resolve())):
        raise MgtError(f"{dst}:1: output would overwrite the input (-o); expected a different output path")
    if dst.exists() and not force:
        raise MgtError(f"{dst}:1: output exists (-o); expected a new path, or --force to replace it")
    write_row = FORMATS[to].write
    try:
        with RowWriter(dst) as out:
            for rec in iter_records(src, format):
                if to != "messages" and not lossy and (where := first_weighted(rec)):
                    raise MgtError(f"{rec.source}: {where}.weight cannot be written as {to} (it has no per-turn "
                                   "weight, so the turn would train); expected --to messages, which keeps it")
                try:
                    row = write_row(rec)
                except RowError as err:  # this record cannot be written as `to`
                    raise MgtError(f"{rec.source}: {err}") from None
                _check_whole(rec, row, to, lossy, dropped)
                out.write(row)
                if tick and out.count % 1000 == 0:
                    tick(out.count)
    except OSError as err:  # a full disk, no permission: nothing is left behind (RowWriter is atomic)
        raise MgtError(f"{dst}:1: cannot write ({err.strerror or err}) (-o); expected a writable output path") \
            from None
    return out.count


def _check_whole(rec, row: dict, to: str, lossy: bool, dropped: dict | None) -> None:
    """Refuse a row that would lose content (the first loss named), or with `lossy` count what it loses."""
    lost = losses(rec, row, to)
    if lost and not lossy:
        where, what = lost[0]
        raise MgtError(f"{rec.source}: {what} cannot be written as {to} ({where}); expected a target format that "
                       "holds it (messages keeps the most), or --lossy to drop it and count what was dropped")
    if dropped is not None:
        for key in {kind_of(where) for where, _ in lost}:
            dropped[key] = dropped.get(key, 0) + 1


def count_lines(path: Path) -> int | None:
    """Cheap total for a progress bar (line-based files only)."""
    if path.suffix.lower() not in (".jsonl", ".ndjson", ".txt"):
        return None
    n = 0
    try:  # a folder, a missing file, a broken link, a name too long, a FIFO: convert() says so in one line
        if not path.is_file():  # opening a FIFO would block until a writer comes
            return None
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                n += chunk.count(b"\n")
    except OSError:
        return None
    return n
