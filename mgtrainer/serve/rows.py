"""Rows in and out of `mgtrainer predict`: CSV or JSONL files.

Which columns a row must have is the trained task's business (its `request`, see mgtrainer.tasks).
No torch here.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from mgtrainer import atomic
from mgtrainer.errors import MgtError


class Row(dict):
    """A row of the input file; `where` is "FILE:LINE" for error messages."""

    where: str = "?"


def read_rows(path: str | Path) -> list[Row]:
    """A .csv (header row) or .jsonl/.json (one object a line) file -> rows."""
    p = Path(path)
    if p.name == "wav.scp" and p.is_file():  # Kaldi speech list (+ text beside it as the reference)
        from mgtrainer.serve.media_rows import scp_rows

        return [_row(r, where) for where, r in scp_rows(p)]
    if not p.is_file():
        raise MgtError(f"{p}:1: no such input file; expected a .csv or .jsonl file")
    if p.suffix.lower() == ".csv":
        with p.open(newline="", encoding="utf-8") as f:
            return [_row(r, f"{p}:{i}") for i, r in enumerate(csv.DictReader(f), start=2)]
    rows = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise MgtError(f"{p}:{i}: not JSON ({err.msg}); expected one JSON object a line") from None
        if not isinstance(obj, dict):
            raise MgtError(f"{p}:{i}: a {type(obj).__name__}, not an object; expected one JSON object a line")
        rows.append(_row(obj, f"{p}:{i}"))
    return rows


def _row(values: dict, where: str) -> Row:
    row = Row(values)
    row.where = where
    return row


def write_rows(path: str | Path, rows: list[dict]) -> Path:
    """Write rows atomically (temp file + rename) as CSV or JSONL by the file's suffix."""
    p = Path(path)
    with atomic.open_atomic(p, "w", newline="") as f:
        if p.name == "text" and rows and "utt" in rows[0]:  # Kaldi transcripts: UTT TEXT per line
            f.writelines(f"{r['utt']} {r.get('prediction', '')}\n" for r in rows)
        elif p.suffix.lower() == ".csv":
            _write_csv(f, rows)
        else:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return p


def _write_csv(f, rows: list[dict]) -> None:
    fields: dict[str, None] = {}
    for row in rows:
        fields.update(dict.fromkeys(row))
    writer = csv.DictWriter(f, fieldnames=list(fields))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                         for k, v in row.items()})

