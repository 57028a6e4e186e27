"""Bytes -> text for the readers: UTF-8 only, with what else a file may be named (UTF-16/32 with or without a
byte-order mark, with the iconv line that fixes it; classic Mac CR-only line ends), lines read with bounded memory
(MGT_MAX_LINE_MB), and the line of the first byte that is not UTF-8 in a file read in chunks."""

from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import Iterator

from mgtrainer.data.base import RowError
from mgtrainer.errors import MgtError

BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark some editors write at the start of a file
CR_ONLY = RowError("lines end with CR only (classic Mac line endings)", "line",
                   "LF line endings: `dos2unix -c mac FILE` or `tr '\\r' '\\n' < FILE > NEW`")


def decode_line(raw: bytes) -> str | RowError:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return wide_text(raw) or RowError(f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at column "
                                          f"{err.start + 1})", "encoding", "UTF-8 text")


def wide_text(raw: bytes) -> RowError | None:
    """The error for UTF-16 / UTF-32 text (named, with the iconv line that fixes it), or None."""
    wide = wide_encoding(raw)
    return None if wide is None else RowError(f"{wide} text, not UTF-8", "encoding",
                                              f"UTF-8 text: `iconv -f {wide.split()[0]} -t UTF-8 FILE > NEW`")


def wide_encoding(raw: bytes) -> str | None:
    """UTF-16 or UTF-32 (by its byte-order mark, or without one by its NUL bytes), else None."""
    for bom, name in ((b"\xff\xfe\x00\x00", "UTF-32LE"), (b"\x00\x00\xfe\xff", "UTF-32BE"),
                      (b"\xff\xfe", "UTF-16LE"), (b"\xfe\xff", "UTF-16BE")):
        if raw.startswith(bom):
            return f"{name} (byte-order mark {bom.hex(' ')})"
    head = raw[:64].rstrip(b"\n")  # a line of UTF-32LE text ends in its newline's first byte
    if len(head) >= 4 and head.count(0) * 4 >= len(head) * 3:
        return "UTF-32LE" if head[0] and not head[1] else "UTF-32BE"
    if len(head) >= 2 and head.count(0) * 2 >= len(head) - 1:
        return "UTF-16LE" if head[0] and not head[1] else "UTF-16BE"
    return None


def max_line() -> int:
    """The longest line a .jsonl/.txt row may be, in bytes: MGT_MAX_LINE_MB (default 64) MiB."""
    try:
        return max(1, int(os.environ.get("MGT_MAX_LINE_MB", "64"))) << 20
    except ValueError:
        raise MgtError(f"MGT_MAX_LINE_MB={os.environ['MGT_MAX_LINE_MB']!r} (environment); expected a whole number "
                       "of MiB") from None


def bounded_lines(fh, path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each line, each read with bounded memory: a line longer than max_line() (a
    whole dump on one line, a binary file) is refused after that many bytes, never read whole."""
    limit, line = max_line(), 0
    while raw := fh.readline(limit + 1):
        line += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            raise MgtError(f"{path}:{line}: a line longer than {limit >> 20} MiB (file); expected one row per line "
                           "(MGT_MAX_LINE_MB=N raises the limit)")
        yield line, raw


def first_bad_utf8(path: Path) -> tuple[int, int]:
    """(line, byte value) of the first byte that is not UTF-8 in a file, read in chunks."""
    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 16):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                pending = len(err.object) - len(chunk)  # bytes the decoder held from the chunk before
                at = max(err.start - pending, 0)
                return line + chunk.count(b"\n", 0, at), err.object[err.start]
            line += chunk.count(b"\n")
    return line, 0
