"""The data layer: every input format -> one internal Record (no torch here).

    iter_records(path, format=None, kind=None)   stream one file or folder
    load_splits(data_cfg, record_kind) -> Splits  train/eval/rejected for a task
    iter_splits(data_cfg, record_kind, rejected)  the same, lazily: (split, record) pairs (no data.mix)
    to_row(record, fmt)                            a record as a row of alpaca/sharegpt/messages/...
"""

from mgtrainer.data.formats import FORMATS, coerce, detect, to_row
from mgtrainer.data.loaders import Splits, iter_records, iter_splits, load_splits
from mgtrainer.data.records import KINDS, ROLES, Message, Record

__all__ = ["FORMATS", "KINDS", "ROLES", "Message", "Record", "Splits", "coerce", "detect", "iter_records",
           "iter_splits", "load_splits", "to_row"]
