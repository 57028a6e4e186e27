"""Streaming, atomic row writers: rows go to a unique temp file beside the target (mgtrainer.atomic),
renamed over it only when everything was written; on any error the temp file is removed. Only valid
output is written: no NaN/Infinity in JSON, no lone surrogates, one spelling of the columns in CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from mgtrainer.atomic import open_atomic
from mgtrainer.data.base import cut
from mgtrainer.errors import MgtError

KINDS = (".jsonl", ".json", ".csv", ".tsv", ".parquet", ".txt")


dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


class RowWriter:
    """`with RowWriter(path) as w: w.write(row)`; the output kind follows the file extension."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.kind = {".ndjson": ".jsonl"}.get(self.path.suffix.lower(), self.path.suffix.lower())
        if self.kind not in KINDS:
            raise MgtError(f"{self.path}:1: unknown output type '{self.path.suffix}' (-o); expected one of "
                           f"{', '.join(KINDS)}")
        self.count, self._csv, self._pq, self._batch = 0, None, None, []

    def __enter__(self) -> "RowWriter":
        if self.kind == ".parquet":
            _pyarrow(self.path)
        self._atomic = open_atomic(self.path, "wb" if self.kind == ".parquet" else "w", newline="")
        self.fh = self._atomic.__enter__()
        if self.kind == ".json":
            self.fh.write("[")
        return self

    def write(self, row: dict) -> None:
        try:
            self._write(row)
        except (ValueError, UnicodeEncodeError, RecursionError) as err:  # NaN/Infinity, a lone surrogate, ...
            what = ("a lone surrogate" if isinstance(err, UnicodeEncodeError) else "nesting too deep to write"
                    if isinstance(err, RecursionError) else f"a value JSON cannot hold ({err})")
            raise MgtError(f"{self.path}:{self.count + 1}: row holds {what} (row); expected finite numbers "
                           "and valid Unicode text") from None
        self.count += 1

    def _write(self, row: dict) -> None:
        k = self.kind
        if k == ".jsonl":
            self.fh.write(dumps(row) + "\n")
        elif k == ".json":
            self.fh.write(("\n" if not self.count else ",\n") + dumps(row))
        elif k in (".csv", ".tsv"):
            self._write_csv(row)
        elif k == ".txt":
            self._write_txt(row)
        else:
            self._batch.append(row)
            if len(self._batch) >= 10_000:
                self._flush_parquet()

    def _write_csv(self, row: dict) -> None:
        cells = {k: v if isinstance(v, str) else dumps(v) for k, v in row.items()}
        if self._csv is None:
            self._csv = csv.DictWriter(self.fh, list(cells), delimiter="\t" if self.kind == ".tsv" else ",")
            self._csv.writeheader()
        if list(cells) != self._csv.fieldnames:
            raise MgtError(f"{self.path}:{self.count + 2}: columns {list(cells)} differ from the header "
                           f"{self._csv.fieldnames} (row); expected the same columns in every row (use .jsonl)")
        self._csv.writerow(cells)

    def _write_txt(self, row: dict) -> None:
        text = row.get("text")
        if set(row) != {"text"} or not isinstance(text, str) or "\n" in text:
            raise MgtError(f"{self.path}:{self.count + 1}: row is not a one-line text document (text); "
                           "expected .txt output only for single-line text rows (use .jsonl)")
        self.fh.write(text + "\n")

    def _flush_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        first = self.count - len(self._batch) + 1
        try:
            table = pa.Table.from_pylist(self._batch)
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.fh, table.schema)
            self._pq.write_table(table.cast(self._pq.schema))
        except pa.ArrowException as err:  # e.g. a column holding an int in one row and a string in another
            raise MgtError(f"{self.path}:{first}: rows {first}-{self.count} do not fit one parquet schema "
                           f"({cut(str(err), 120)}) (row); expected one type per column in every row (or write "
                           ".jsonl)") from None
        self._batch = []

    def _close(self, ok: bool) -> None:
        if self.kind == ".parquet":
            if self._batch and ok:
                self._flush_parquet()
            if self._pq is not None:
                self._pq.close()
        elif self.kind == ".json" and ok:
            self.fh.write("\n]\n")

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._close(exc_type is None)
        except BaseException as err:
            self._atomic.__exit__(type(err), err, err.__traceback__)
            raise
        self._atomic.__exit__(exc_type, exc, tb)


def _pyarrow(path: Path) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise MgtError(f"{path}:1: writing .parquet needs pyarrow, which is not installed here (-o); expected to "
                       "run in the train env: `mgtrainer env run train -- mgtrainer data convert ...`, "
                       "or `pip install pyarrow`") from None
