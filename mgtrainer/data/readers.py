"""File kinds -> a stream of (source "file:line", row dict or RowError).

JSONL and .txt stream line by line (constant memory); .json arrays are parsed element by element
so each row knows its line; CSV/TSV use the csv module (line of the row's first physical line);
parquet streams record batches (pyarrow, imported lazily); a folder saved by `datasets` is read
with `datasets.load_from_disk` (imported lazily); any other folder is read file by file.
A problem that stops the whole file (bad encoding in a .json, malformed JSON array, empty file)
raises MgtError at once; a bad row comes out as a RowError so callers can list or reject it. Bytes become
text in data/text.py (encodings named, lines bounded).
"""

from __future__ import annotations

import errno
import csv
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterator

from mgtrainer.data.base import (
    MAX_DEPTH, STRICT, RowError, cut, depth, json_problem, loads, show, shown_path, type_name)
from mgtrainer.data.text import BOM, CR_ONLY, bounded_lines, decode_line, first_bad_utf8, max_line, wide_text
from mgtrainer.errors import MgtError

EXTENSIONS = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".txt")
Rows = Iterator[tuple[str, Any]]
# a \uD800-\uDFFF escape that is not half of a surrogate pair: JSON can spell it, UTF-8 cannot store it
LONE_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
                            r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")  # a cheap first look on the raw line
NEEDS = {".parquet": "pyarrow", "datasets": "datasets"}  # file kind -> the module that reads it


def file_kind(path: Path) -> str:
    if path.name == "wav.scp" or (path.is_dir() and (path / "wav.scp").is_file()):
        return "wav.scp"  # Kaldi-style speech: wav.scp (+ text beside it)
    if path.is_dir():
        return "datasets" if (path / "state.json").exists() or (path / "dataset_dict.json").exists() else "folder"
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise MgtError(f"{path}:1: unknown file type '{suffix}' (file name); expected one of {', '.join(EXTENSIONS)} "
                       "or a folder")
    return {".ndjson": ".jsonl"}.get(suffix, suffix)


def check_path(path: Path, field: str = "path") -> None:
    """MgtError for a path no file system takes: a name that is too long, a NUL byte."""
    try:
        os.lstat(path)
    except ValueError:
        raise MgtError(f"{cut(str(path), 80)}:1: a NUL byte in the path ({field}); expected a file path") from None
    except OSError as err:
        if err.errno == errno.ENAMETOOLONG:
            raise MgtError(f"{cut(str(path), 80)}:1: file name too long ({field}); expected a path the file system "
                           "takes (at most 255 bytes per name)") from None


def check_exists(path: Path, field: str = "path") -> None:
    """MgtError unless `path` exists; a broken or looping symbolic link is named as such."""
    check_path(path, field)
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if path.is_symlink() and err.errno == errno.ELOOP:
            raise MgtError(f"{path}:1: symbolic link loop ({field}); expected a link that ends at a data "
                           "file or folder") from None
        if path.is_symlink():
            raise MgtError(f"{path}:1: broken symbolic link to {show(os.readlink(path))} ({field}); expected a "
                           "link to an existing data file or folder") from None
        if err.errno == errno.ELOOP:
            raise MgtError(f"{path}:1: symbolic link loop in the path ({field}); expected a path without "
                           "looping links") from None
        raise MgtError(f"{path}:1: no such file or folder ({field}); expected an existing data file") from None
    special = next((name for test, name in SPECIAL if test(mode)), None)
    if special:  # reading a FIFO waits for a writer forever; a device never ends
        raise MgtError(f"{path}:1: {special}, not a file ({field}); expected a regular data file or folder")


SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
           (stat.S_ISBLK, "a block device"))


def needed_modules(path: Path) -> list[str]:
    """Modules outside the light core that reading `path` needs (pyarrow for .parquet, datasets for a
    folder saved by `datasets`), [] when it is missing or plain."""
    try:
        if not path.exists():
            return []
        kind = file_kind(path)
        if kind == "folder":
            return sorted({m for f in folder_files(path) for m in needed_modules(f)})
    except (MgtError, OSError):
        return []
    return [NEEDS[kind]] if kind in NEEDS else []


def _need(module: str, path: Path):
    """Import a reader's module, or one line saying how to get it (the CLI re-runs in the train env first)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MgtError(f"{path}:1: reading this needs {module}, which is not installed here (file type); "
                       f"expected to run in the train env: `mgtrainer env run train -- mgtrainer ...`, "
                       f"or `pip install {module}`") from None


def read_rows(path: Path | str) -> Rows:
    """Every row of a file or folder, in order; raises MgtError for an empty or unreadable file. A file name
    that does not print (a newline in it) is shown quoted in every source and message."""
    raw, shown = str(path), shown_path(path)
    if raw == shown:
        yield from _read_rows(Path(path))
        return
    try:
        for source, row in _read_rows(Path(path)):
            yield source.replace(raw, shown, 1), row
    except MgtError as err:
        raise MgtError(str(err).replace(raw, shown)) from None


def _read_rows(path: Path) -> Rows:
    check_exists(path)
    if not os.access(path, os.R_OK):
        raise MgtError(f"{path}:1: cannot read (permission denied) (path); expected a readable data file or folder")
    kind = file_kind(path)
    reader = {".jsonl": _jsonl, ".json": _json, ".csv": _csv, ".tsv": _csv, ".parquet": _parquet, ".txt": _txt,
              "datasets": _datasets, "folder": _folder, "wav.scp": _scp}[kind]
    empty = True
    for item in reader(path):
        empty = False
        yield item
    if empty:
        raise MgtError(f"{path}:1: empty file (no rows); expected at least one row")


def _json_line(text: str) -> Any:
    try:
        return _sound(loads(text), text)
    except (ValueError, RecursionError) as err:
        if "\x00" in text and (wide := wide_text(text.encode("utf-8"))):  # NUL is valid UTF-8: UTF-16, no BOM
            return wide
        if "\r" in text.rstrip("\r\n"):  # several rows on one "line": the file ends its lines with CR only
            return CR_ONLY
        what, expected = json_problem(err)
        return RowError(what, "line", "one JSON object per line" if isinstance(err, json.JSONDecodeError)
                        else expected)


def _sound(obj: Any, text: str) -> Any:
    """`obj` parsed from `text`, or a RowError for what JSON allows and a row must not hold: lone surrogate
    escapes (not storable as UTF-8) and nesting deeper than MAX_DEPTH. Cheap unless the text hints at one."""
    if "\\u" in text and (bad := LONE_SURROGATE.search(text)) and _has_surrogate(obj):
        return RowError(f"lone surrogate {bad.group()} at column {bad.start() + 1}", "encoding",
                        "valid Unicode text (\\ud800-\\udfff escapes only as surrogate pairs)")
    if text.count("[") + text.count("{") > MAX_DEPTH and depth(obj) > MAX_DEPTH:
        what, expected = json_problem(RecursionError())
        return RowError(what, "line", expected)
    return obj


def _has_surrogate(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _jsonl(path: Path) -> Rows:
    name, hint, decode, maybe_surrogate = str(path), MAX_DEPTH // 2, STRICT.decode, MAYBE_SURROGATE.search
    with open(path, "rb") as fh:
        for line, raw in bounded_lines(fh, path):
            if line == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            if raw.isspace() or not raw:
                continue
            try:  # the hot loop of big files: one try, no helper calls on the good path
                text = raw.decode("utf-8")
                row = decode(text)
            except UnicodeDecodeError:
                row = decode_line(raw)
            except (ValueError, RecursionError):
                row = _json_line(text)
            else:
                if maybe_surrogate(raw) or raw.count(b"[") > hint or raw.count(b"{") > hint:
                    row = _sound(row, text)
            yield f"{name}:{line}", row


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:64] and (wide := wide_text(raw)):  # ASCII in UTF-16/32 is valid UTF-8, NULs and all
        raise MgtError(f"{path}:1: {wide}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if wide := wide_text(raw):
            raise MgtError(f"{path}:1: {wide}") from None
        line = raw.count(b"\n", 0, err.start) + 1
        raise MgtError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[err.start]:02x}) (encoding); "
                       "expected UTF-8 text") from None


def _json(path: Path) -> Rows:
    """A JSON array, element by element with line numbers; a .json holding JSON lines also works."""
    text = _read_text(path)
    start = len(text) - len(text.lstrip())
    if start < len(text) and text[start] == "{":
        yield from _json_lines_text(path, text)
        return
    if start == len(text):
        return
    if text[start] != "[":
        raise MgtError(f"{path}:1: top-level JSON {type_name(_safe_load(text))} (file); "
                       "expected a JSON array of row objects")
    yield from _json_array(path, text, start + 1)


def _safe_load(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return ""


def _json_array(path: Path, text: str, pos: int) -> Rows:
    decoder, ws, line, seen = STRICT, " \t\r\n", 1, 0
    n = len(text)
    while True:
        while pos < n and text[pos] in ws:
            pos += 1
        if pos < n and text[pos] == "]":
            _nothing_after(path, text, pos + 1)
            return
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            line = text.count("\n", 0, err.pos) + 1
            what = f"malformed JSON ({err.msg.removesuffix(' at')} at column {err.colno})"
            raise MgtError(f"{path}:{line}: {what} (file); "
                           "expected a JSON array of row objects") from None
        except (ValueError, RecursionError) as err:  # NaN, a huge integer, deep nesting: the row cannot be skipped
            line = text.count("\n", 0, pos) + 1
            what, expected = json_problem(err)
            raise MgtError(f"{path}:{line}: {what} (file); expected {expected}") from None
        line += text.count("\n", seen, pos)
        seen = pos
        yield f"{path}:{line}", _sound(obj, text[pos:end])
        pos = end
        while pos < n and text[pos] in ws:
            pos += 1
        if pos < n and text[pos] == ",":
            pos += 1
        elif not (pos < n and text[pos] == "]"):
            line = text.count("\n", 0, pos) + 1
            raise MgtError(f"{path}:{line}: malformed JSON (expected ',' or ']') (file); "
                           "expected a JSON array of row objects")


def _nothing_after(path: Path, text: str, pos: int) -> None:
    """A .json file is one array: text after its closing bracket (a second array, a stray word) would be lost."""
    rest = len(text) - len(text[pos:].lstrip(" \t\r\n"))
    if rest < len(text):
        line = text.count("\n", 0, rest) + 1
        raise MgtError(f"{path}:{line}: text after the JSON array ({show(text[rest:rest + 20], 30)}) (file); expected "
                       "one JSON array of row objects (for several, one row per line in a .jsonl file)")


def _json_lines_text(path: Path, text: str) -> Rows:
    for line, part in enumerate(text.split("\n"), 1):
        if part.strip():
            obj = _json_line(part)
            if line == 1 and isinstance(obj, RowError) and isinstance(_safe_load(text), dict):
                raise MgtError(f"{path}:1: a single JSON object (file); expected a JSON array of row objects")
            yield f"{path}:{line}", obj


def _csv(path: Path) -> Rows:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    csv.field_size_limit(max_line())  # a cell is held whole: bounded as a .jsonl line is
    with open(path, "rb") as fh:
        head = fh.read(64)
    if b"\x00" in head and (wide := wide_text(head)):  # UTF-16/32 text without a byte-order mark
        raise MgtError(f"{path}:1: {wide}")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader, None)
            if header is None:
                return
            if len(set(header)) != len(header):  # a dict of the row would keep only the last cell of the name
                twice = next(h for i, h in enumerate(header) if h in header[:i])
                raise MgtError(f"{path}:1: column {show(twice, 60)} appears twice in the header (header); expected "
                               "each column name once")
            line = reader.line_num + 1
            for cells in reader:
                if any(cells):
                    yield f"{path}:{line}", _csv_row(header, cells)
                line = reader.line_num + 1
        except UnicodeDecodeError:  # the text layer decodes ahead in chunks: find the line in the bytes
            line, byte = first_bad_utf8(path)
            raise MgtError(f"{path}:{line}: not valid UTF-8 (byte 0x{byte:02x}) (encoding); expected UTF-8 text") \
                from None
        except csv.Error as err:
            if "field larger than field limit" in str(err):
                raise MgtError(f"{path}:{reader.line_num}: a cell longer than {max_line() >> 20} MiB (file); expected "
                               "smaller cells (MGT_MAX_LINE_MB=N raises the limit)") from None
            raise MgtError(f"{path}:{reader.line_num}: malformed CSV ({err}) (file); expected RFC 4180 CSV") from None


def _csv_row(header: list[str], cells: list[str]) -> dict | RowError:
    if len(cells) != len(header):
        quote = ", a quoted cell runs over several lines: an unclosed quote?" if any("\n" in c for c in cells) else ""
        return RowError(f"{len(cells)} cells for {len(header)} columns{quote}", "row", "one cell per header column")
    return dict(zip(header, cells))


def _txt(path: Path) -> Rows:
    name = str(path)
    with open(path, "rb") as fh:
        for line, raw in bounded_lines(fh, path):
            if line == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            if raw.strip():
                text = decode_line(raw)
                if isinstance(text, str) and "\r" in text.rstrip("\r\n"):  # documents ending in CR only
                    text = CR_ONLY
                yield f"{name}:{line}", text if isinstance(text, RowError) else {"text": text.rstrip("\r\n")}


def _parquet(path: Path) -> Rows:
    _need("pyarrow", path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for item in batch.to_pylist():
                row += 1
                yield f"{path}:{row}", item
    except (pa.ArrowException, OSError) as err:
        raise MgtError(f"{path}:{row + 1}: unreadable parquet ({cut(err, 120)}) (file); expected a parquet file "
                       "(pyarrow, pandas or datasets wrote it)") from None


def _datasets(path: Path) -> Rows:
    datasets = _need("datasets", path)
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as err:  # noqa: BLE001 - datasets raises FileNotFoundError, ValueError, KeyError, ... here
        raise MgtError(f"{path}:1: unreadable `datasets` folder ({cut(err, 120)}) (file); expected a folder that "
                       "Dataset.save_to_disk wrote") from None
    if isinstance(ds, datasets.DatasetDict):
        if "train" not in ds:
            raise MgtError(f"{path}:1: a DatasetDict without a 'train' split (splits: {', '.join(ds)}); "
                           f"expected a train split, or point at one split's folder")
        ds = ds["train"]
    for row, item in enumerate(ds, 1):
        yield f"{path}:{row}", item


def folder_files(path: Path) -> list[Path]:
    """The data files of a plain folder, in name order (hidden files and dataset_info.json skipped)."""
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in EXTENSIONS and not p.name.startswith(".")
                   and p.name != "dataset_info.json")
    if not files:
        raise MgtError(f"{path}:1: no data files in this folder (path); expected files ending in "
                       f"{', '.join(EXTENSIONS)}")
    return files


def _scp(path: Path) -> Rows:
    from mgtrainer.data.kaldi import read_scp

    yield from read_scp(path / "wav.scp" if path.is_dir() else path)


def _folder(path: Path) -> Rows:
    for file in folder_files(path):
        yield from read_rows(file)
