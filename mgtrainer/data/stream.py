"""Streaming train data (data.streaming): records read lazily, pass after pass, in constant memory.

`stream_splits(data_cfg, kind)` -> (RecordStream, eval records). The train datasets are read one after
another (max_samples caps each); eval rows are data.eval (read in full: they should be small) or, with
an integer data.val_size N, the first N rows of the stream, which the train passes then skip.
`shuffled(items, buffer_size, rng)` is the buffer shuffle (as `datasets.IterableDataset.shuffle`).
"""

from __future__ import annotations

import random
import sys
from itertools import chain, islice
from typing import Iterable, Iterator

from mgtrainer.data.loaders import DataOptions, OnError, iter_records, read_dataset, report_rejected
from mgtrainer.data.records import Record
from mgtrainer.data.registry import resolve
from mgtrainer.errors import MgtError

SHOWN = 5  # rejected rows printed one by one; the rest are counted


class Rejects:
    """Rejected rows met while streaming: the first few printed at once (file:line), all counted."""

    def __init__(self, shown: int = SHOWN):
        self.count, self.shown, self.first = 0, shown, []

    def __call__(self, source: str, reason: str) -> None:
        self.count += 1
        if len(self.first) < self.shown:
            self.first.append((source, reason))
            print(f"data: rejected {source}: {reason}", file=sys.stderr)

    def report(self) -> None:
        if self.count:
            print(f"data: {self.count} rows rejected in the first pass over the train stream; run "
                  "`mgtrainer data check FILE` for all of them", file=sys.stderr)


class RecordStream:
    """The train records of data_cfg; each iteration opens the files again and reads them lazily."""

    def __init__(self, data_cfg, kind: str, skip: int = 0):
        self.opts, self.kind, self.skip = DataOptions.of(data_cfg), kind, skip
        self.names = list(self.opts.train)
        if not self.names:
            raise MgtError("no training data (data.train); expected a file, folder or dataset name")
        for i, name in enumerate(self.names):  # a missing file or dataset name fails now, not mid-training
            resolve(name, self.opts.dataset_dir, f"data.train[{i}]")

    def records(self, on_error: OnError) -> Iterator[Record]:
        """One pass; rows rejected among the skipped (eval) rows are not reported again."""
        seen = 0

        def report(source: str, reason: str) -> None:
            if seen >= self.skip:
                on_error(source, reason)

        for rec in chain.from_iterable(self._one(i, name, report) for i, name in enumerate(self.names)):
            seen += 1
            if seen > self.skip:
                yield rec

    def _one(self, i: int, name: str, on_error: OnError) -> Iterator[Record]:
        path, spec = resolve(name, self.opts.dataset_dir, f"data.train[{i}]")
        fmt = self.opts.format
        if spec and fmt:
            spec.format = fmt
        rows = iter_records(path, None if spec else fmt, self.kind, spec=spec, on_error=on_error)
        cap = self.opts.max_samples
        return islice(rows, cap) if cap is not None else rows

    def describe(self) -> str:
        return ", ".join(self.names) + (f" (after the first {self.skip} rows, held out for eval)" if self.skip else "")


def stream_splits(data_cfg, kind: str) -> tuple[RecordStream, list[Record]]:
    """The lazy train stream and the (in-memory) eval records; see the module doc."""
    opts = DataOptions.of(data_cfg)
    if opts.mix:
        raise MgtError("data.mix is not supported with data.streaming (data.mix); expected no mix: streamed "
                       "datasets are read one after another")
    val_size = opts.val_size
    if val_size and not float(val_size).is_integer():
        raise MgtError(f"val_size {val_size} is a ratio, but a stream's length is unknown (data.val_size); "
                       "expected a row count (the first N rows become eval rows) or data.eval files")
    if opts.eval:
        rejected: list[tuple[str, str]] = []
        evals = [r for i, n in enumerate(opts.eval) for r in read_dataset(n, opts, kind, rejected, f"data.eval[{i}]")]
        report_rejected(rejected, len(evals))
        return RecordStream(opts, kind), evals
    n = int(val_size)
    train = RecordStream(opts, kind)
    evals = list(islice(train.records(Rejects()), n)) if n else []
    if n and len(evals) < n:
        raise MgtError(f"val_size {n} but data.train has only {len(evals)} usable rows (data.val_size); "
                       "expected fewer eval rows than train rows")
    return RecordStream(opts, kind, skip=n), evals


def shuffled(items: Iterable, buffer_size: int, rng: random.Random) -> Iterator:
    """Buffer shuffle: keep `buffer_size` items, emit a random one as each new item arrives."""
    if buffer_size <= 1:
        yield from items
        return
    buf = []
    for item in items:
        if len(buf) < buffer_size:
            buf.append(item)
            continue
        i = rng.randrange(buffer_size)
        yield buf[i]
        buf[i] = item
    rng.shuffle(buf)
    yield from buf
