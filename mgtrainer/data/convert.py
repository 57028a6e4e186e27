"""File -> file conversion between formats (streaming, atomic, never over the input)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from mgtrainer.data.base import RowError
from mgtrainer.data.formats import FORMATS
from mgtrainer.data.loaders import iter_records
from mgtrainer.data.writers import RowWriter
from mgtrainer.errors import MgtError


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.exists() and b.samefile(a))
    except OSError:
        return False


def convert(src: str | Path, dst: str | Path, to: str, format: str | None = None,
            tick: Callable[[int], None] | None = None) -> int:
    """Write every record of `src` as a `to` row into `dst`; returns the row count.
    Any bad row stops the conversion with its FILE:LINE message and leaves no output behind."""
    src, dst = Path(src), Path(dst)
    if to not in FORMATS:
        raise MgtError(f"unknown target format '{to}' (--to); expected one of {', '.join(FORMATS)}")
    if same_file(src, dst) or (src.is_dir() and dst.resolve().is_relative_to(src.resolve())):
        raise MgtError(f"{dst}:1: output would overwrite the input (-o); expected a different output path")
    write_row = FORMATS[to].write
    with RowWriter(dst) as out:
        for rec in iter_records(src, format):
            try:
                out.write(write_row(rec))
            except RowError as err:  # this record cannot be written as `to`
                raise MgtError(f"{rec.source}: {err}") from None
            if tick and out.count % 1000 == 0:
                tick(out.count)
    return out.count


def count_lines(path: Path) -> int | None:
    """Cheap total for a progress bar (line-based files only)."""
    if path.is_dir() or path.suffix.lower() not in (".jsonl", ".ndjson", ".txt"):
        return None
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
    return n
