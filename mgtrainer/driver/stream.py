"""data.streaming for pt and sft: the record stream -> token rows -> a buffer-shuffled torch IterableDataset.

Like LLaMA-Factory's `streaming: true`: the length is unknown, so training is bounded by train.max_steps;
Trainer re-iterates the dataset when a pass ends (each pass reopens the files, reshuffled with seed +
pass). Memory holds the shuffle buffer (data.buffer_size token rows), not the file. What streaming
refuses is checked by mgtrainer.app.runs.check_streaming. The record stream, its buffer shuffle and its
rejected-row counter come from the data layer, handed down by the app (the driver never imports data).
"""

from __future__ import annotations

import random
from itertools import islice

from torch.utils.data import IterableDataset

from mgtrainer.errors import MgtError


class RowStream(IterableDataset):
    """Token rows of a record stream: encode_rows(records) -> rows, shuffled with a seeded buffer.

    records: the data layer's RecordStream; shuffle(items, buffer_size, rng): its buffer shuffle;
    rejects(source, reason): its counter of rejected rows (reported on the first pass only).
    """

    def __init__(self, records, encode_rows, buffer_size: int, seed: int, shuffle, rejects):
        self.records, self.encode_rows = records, encode_rows
        self.buffer_size, self.seed, self.epoch = buffer_size, seed, 0
        self.shuffle, self.rejects = shuffle, rejects

    def set_epoch(self, epoch: int) -> None:  # Trainer/accelerate call this before each pass
        self.epoch = epoch

    def __iter__(self):
        on_error = self.rejects if self.epoch == 0 else (lambda source, reason: None)
        rows = self.encode_rows(self.records.records(on_error))
        n = 0
        for n, row in enumerate(self.shuffle(rows, self.buffer_size, random.Random(self.seed + self.epoch)), 1):
            yield row
        if n == 0:
            raise MgtError(f"no usable rows in {self.records.describe()} (data.train); expected at least one "
                           "(rejected rows are listed above)")

    def head(self, n: int) -> list[dict]:
        """The first n rows in file order, not shuffled (for the preview); rejects are not reported."""
        return list(islice(self.encode_rows(self.records.records(lambda source, reason: None)), n))
