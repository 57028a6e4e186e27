"""Reading records: `iter_records` streams one source; `load_splits` reads the config's datasets,
validates, caps (max_samples), splits off eval rows and mixes. Rejected rows are always reported."""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from itertools import islice
from typing import Callable, Iterator, NamedTuple

from mgtrainer.data.base import RowError, Spec, cut, json_problem, shown_key, type_name
from mgtrainer.data.media import resolve as resolve_media
from mgtrainer.data.formats import EXPECT, FORMATS, KindError, coerce, detect
from mgtrainer.data.readers import file_kind, folder_files, read_rows
from mgtrainer.data.records import KINDS, Record
from mgtrainer.data.registry import resolve
from mgtrainer.data.rules import RULED, LabelSpellings, check_record
from mgtrainer.errors import MgtError

OnError = Callable[[str, str], None]


DEFAULT_SEED = 42


@dataclass(frozen=True, slots=True)
class DataOptions:
    """What the data layer reads from the config's `data` section, typed once at the edge
    (`DataOptions.of(cfg.data)`); the loaders trust it from there."""

    train: tuple[str, ...] = ()
    eval: tuple[str, ...] = ()
    dataset_dir: str | None = None
    media_dir: str | None = None
    format: str | None = None
    mix: tuple[float, ...] | None = None
    val_size: float | int = 0
    max_samples: int | None = None
    seed: int = DEFAULT_SEED

    @classmethod
    def of(cls, cfg) -> "DataOptions":
        """From a DataConfig (or any object with some of these attributes, or a DataOptions)."""
        if isinstance(cfg, cls):
            return cfg
        given = {f.name: getattr(cfg, f.name) for f in fields(cls) if getattr(cfg, f.name, None) is not None}
        given["train"] = tuple(_names(given.get("train"), "data.train"))
        given["eval"] = tuple(_names(given.get("eval"), "data.eval"))
        if "mix" in given:
            given["mix"] = tuple(given["mix"]) if given["mix"] else None
        return cls(**given)


class Splits(NamedTuple):
    train: list[Record]
    eval: list[Record]
    rejected: list[tuple[str, str]]  # (source "file:line", reason)


def _check_names(format: str | None, kind: str | None) -> None:
    if format is not None and format not in FORMATS:
        raise MgtError(f"unknown data format '{format}' (data.format); expected one of {', '.join(FORMATS)}")
    if kind is not None and kind not in KINDS:
        raise MgtError(f"unknown record kind '{kind}' (kind); expected one of {', '.join(KINDS)}")


def _format_for(row: dict, path: Path, source: str, format: str | None, kind: str | None) -> str:
    if format:
        return format
    if path.suffix.lower() == ".txt":
        return "text"
    found = detect(row, kind)
    chat = next((k for k in ("messages", "conversations", "conversation") if k in row), None)
    if found is None and chat:  # the conversation column is there but is not a list of turns
        raise MgtError(f"{source}: wrong type {type_name(row[chat])} ({chat}); expected a list of turn objects "
                       "(role/content or from/value)")
    if found is None:
        cols = cut(", ".join(map(shown_key, list(row)[:8])) or "none", 80)
        raise MgtError(f"{source}: cannot detect the data format (columns: {cols}); expected "
                       f"{EXPECT.get(kind or '', 'one of: ' + ', '.join(FORMATS))}, or set data.format")
    return found


def iter_records(path: str | Path, format: str | None = None, kind: str | None = None, *,
                 spec: Spec | None = None, on_error: OnError | None = None,
                 labels: LabelSpellings | None = None, media_dir: str | None = None) -> Iterator[Record]:
    """Stream the records of one file or folder. A bad row raises MgtError `FILE:LINE: ...` unless
    `on_error(source, reason)` is given, which then receives it and the row is skipped. `labels` carries
    the label spellings seen across several sources (default: this source only)."""
    format = format or (spec.format if spec else None) or None
    _check_names(format, kind)
    path = Path(path)
    labels = labels or LabelSpellings()
    if path.is_dir() and file_kind(path) == "folder":
        yield from _folder_records(path, format, kind, spec, on_error, labels, media_dir)
        return
    spec = spec or Spec(format or "")
    if path.suffix.lower() in (".csv", ".tsv"):
        spec.cells = True
    parse, first = None, True
    for source, row in read_rows(path):
        rec = None
        try:
            if isinstance(row, RowError):
                raise row
            if not isinstance(row, dict):
                raise RowError(f"wrong type {type(row).__name__}", "row", "a JSON object per row")
            if parse is None:
                spec.format = _format_for(row, path, source, format, kind)
                parse = FORMATS[spec.format].parse
            rec = parse(row, spec, kind)
            if kind:
                rec = coerce(rec, kind)
            _place_and_check(rec, source, path, media_dir, labels)
        except RecursionError:  # nesting the reader let through but a converter cannot walk
            what, expected = json_problem(RecursionError())
            _fail(source, RowError(what, "row", expected), on_error)
            continue
        except KindError as err:
            if first:
                raise MgtError(f"{source}: {err}") from None
            _fail(source, err, on_error)
            continue
        except RowError as err:
            if first and rec is None and isinstance(row, dict):
                _check_mapping(spec, row, source)  # a column the mapping names that the file lacks: said once
            first = first and rec is None  # a row of the needed kind refused by a rule: the file's kind is right
            _fail(source, err, on_error)
            continue
        first = False
        yield rec


def _check_mapping(spec: Spec, row: dict, source: str) -> None:
    """The first row failed: if the dataset's column mapping names columns this row does not have, that is a
    mapping error (every row would fail the same way), said once instead of once per row."""
    absent = [f"{col} ({key})" for key, col in spec.columns.items() if isinstance(col, str) and col not in row]
    if absent:
        raise MgtError(f"{source}: the dataset's column mapping names {', '.join(absent)}, which the file does not "
                       f"have (its columns: {cut(', '.join(map(shown_key, row)), 80)}); expected column names of the "
                       "file in the dataset's \"columns\" (dataset_info.json)")


def _place_and_check(rec: Record, source: str, path: Path, media_dir, labels: LabelSpellings) -> None:
    """The record's FILE:LINE, its media files found, and the rules of its kind (RowError when broken)."""
    rec.source = source
    if rec.media:
        resolve_media(rec, path if path.is_dir() else path.parent, media_dir)
    if rec.kind in RULED:
        check_record(rec)
        labels.check(rec)


def _folder_records(path: Path, format, kind, spec, on_error, labels, media_dir) -> Iterator[Record]:
    """The records of each file of a plain folder, each file's format detected on its own (the mapping kept)."""
    for file in folder_files(path):
        same = Spec(format or "", dict(spec.columns), dict(spec.tags), spec.ranking) if spec else None
        yield from iter_records(file, format, kind, spec=same, on_error=on_error, labels=labels, media_dir=media_dir)


def _fail(source: str, err: RowError, on_error: OnError | None) -> None:
    if on_error is None:
        raise MgtError(f"{source}: {err}")
    on_error(source, str(err))


def _names(value, field: str) -> list[str]:
    if value is None:
        return []
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    return [str(v) for v in items if str(v)]


def read_dataset(name: str, cfg, kind: str | None, rejected: list, field: str,
                 labels: LabelSpellings | None = None) -> list[Record]:
    """All valid records of one dataset (file, folder or dataset_info.json name), capped at max_samples."""
    opts = DataOptions.of(cfg)
    return list(_dataset_records(name, opts, kind, rejected, field, labels))


def _dataset_records(name: str, opts: DataOptions, kind: str | None, rejected: list, field: str,
                     labels: LabelSpellings | None = None) -> Iterator[Record]:
    """read_dataset, lazily: the valid records of one dataset, at most max_samples of them."""
    path, spec = resolve(name, opts.dataset_dir, field)
    fmt = opts.format
    if spec and fmt:
        spec.format = fmt

    def keep(source: str, reason: str) -> None:
        rejected.append((source, reason))

    rows = iter_records(path, None if spec else fmt, kind, spec=spec, on_error=keep, labels=labels,
                        media_dir=opts.media_dir)
    yield from (rows if opts.max_samples is None else islice(rows, opts.max_samples))


def iter_splits(data_cfg, record_kind: str, rejected: list) -> Iterator[tuple[str, Record]]:
    """load_splits in constant memory: ("train" | "eval", record) pairs, each split in load_splits' order,
    read lazily (a ratio or count val_size first counts the rows in one extra pass). data.mix needs every
    row at once and is refused. Rejected rows are appended to `rejected`; the caller reports them."""
    opts = DataOptions.of(data_cfg)
    if opts.mix:
        raise MgtError("data.mix samples across all rows at once (data.mix); expected no mix when reading in "
                       "constant memory (data pack), or the datasets mixed beforehand")
    if not opts.train:
        raise MgtError("no training data (data.train); expected a file, folder or dataset name")
    labels = LabelSpellings()

    def train_records(sink: list, spellings: LabelSpellings) -> Iterator[Record]:
        for i, n in enumerate(opts.train):
            yield from _dataset_records(n, opts, record_kind, sink, f"data.train[{i}]", spellings)

    picked: set[int] = set()
    if opts.val_size and not opts.eval:
        total = sum(1 for _ in train_records([], LabelSpellings()))
        picked = _picked(total, opts.val_size, opts.seed)
    for i, n in enumerate(opts.eval):
        for rec in _dataset_records(n, opts, record_kind, rejected, f"data.eval[{i}]", labels):
            yield "eval", rec
    for i, rec in enumerate(train_records(rejected, labels)):
        yield ("eval" if i in picked else "train"), rec


def _picked(total: int, val_size, seed: int) -> set[int]:
    """The indices (over the pooled rows of all train datasets) of the seeded eval split."""
    if not val_size or total == 0:
        return set()
    n = int(val_size) if (isinstance(val_size, int) or float(val_size) >= 1) else round(total * float(val_size))
    if not 0 < n < total:
        raise MgtError(f"val_size {val_size} gives {n} eval rows of {total} (data.val_size); "
                       "expected a ratio in (0, 1) or a row count below the number of rows")
    return set(random.Random(seed).sample(range(total), n))


def _split(sets: list[list[Record]], val_size, seed: int) -> tuple[list[list[Record]], list[Record]]:
    """Seeded eval split over the pooled rows of all datasets (before any oversampling)."""
    picked = _picked(sum(len(s) for s in sets), val_size, seed)
    if not picked:
        return sets, []
    train, evals, i = [], [], 0
    for s in sets:
        keep = []
        for rec in s:
            (evals if i in picked else keep).append(rec)
            i += 1
        train.append(keep)
    return train, evals


def _mix(sets: list[list[Record]], weights, seed: int) -> list[Record]:
    """Weighted mixing: dataset i gives round(N * w_i / sum(w)) rows (N = all train rows), a seeded
    sample, repeating rows (oversampling) where it has fewer."""
    if not weights:
        return [rec for s in sets for rec in s]
    if len(weights) != len(sets) or any(w < 0 for w in weights) or not sum(weights):
        raise MgtError(f"data.mix {list(weights)} for {len(sets)} datasets (data.mix); expected one "
                       "non-negative weight per dataset in data.train")
    rng, total, out = random.Random(seed), sum(len(s) for s in sets), []
    for s, w in zip(sets, weights):
        want = round(total * w / sum(weights))
        if s and want:
            out += [s[i % len(s)] for i in range(want - want % len(s))] + rng.sample(s, want % len(s))
    rng.shuffle(out)
    return out


def load_splits(data_cfg, record_kind: str) -> Splits:
    """Read data.train (and data.eval or a val_size split), mixing with data.mix; rejected rows
    are collected, reported on stderr, and returned."""
    opts = DataOptions.of(data_cfg)
    rejected: list[tuple[str, str]] = []
    labels = LabelSpellings()  # one spelling per class across train and eval
    train_names = list(opts.train)
    if not train_names:
        raise MgtError("no training data (data.train); expected a file, folder or dataset name")
    sets = [read_dataset(n, opts, record_kind, rejected, f"data.train[{i}]", labels)
            for i, n in enumerate(train_names)]
    if opts.eval:
        evals = _read_eval(opts, record_kind, rejected, labels)
    else:
        sets, evals = _split(sets, opts.val_size, opts.seed)
    train = _mix(sets, opts.mix, opts.seed)
    report_rejected(rejected, len(train) + len(evals))
    if not train:
        first = f"; first rejected: {rejected[0][0]}: {rejected[0][1]}" if rejected else ""
        raise MgtError(f"no usable training rows in {', '.join(train_names)} (data.train){first}; "
                       f"expected {EXPECT[record_kind]}")
    return Splits(train, evals, rejected)


def load_eval(data_cfg, record_kind: str) -> list:
    """The records of data.eval alone (a packed cache holds eval tokens, not the prompts a generation eval
    needs); [] when eval rows come from a val_size split. Rejected rows are reported on stderr."""
    opts, rejected = DataOptions.of(data_cfg), []
    evals = _read_eval(opts, record_kind, rejected, LabelSpellings())
    report_rejected(rejected, len(evals))
    return evals


def _read_eval(opts, record_kind: str, rejected: list, labels) -> list:
    """The records of every data.eval dataset, in order (rejected rows collected in `rejected`)."""
    return [r for i, n in enumerate(opts.eval or [])
            for r in read_dataset(n, opts, record_kind, rejected, f"data.eval[{i}]", labels)]


def report_rejected(rejected: list[tuple[str, str]], kept: int, first: int = 5) -> None:
    if not rejected:
        return
    lines = [f"data: {len(rejected)} rows rejected ({kept} kept); run `mgtrainer data check FILE` for all of them:"]
    lines += [f"  {src}: {reason}" for src, reason in rejected[:first]]
    print("\n".join(lines), file=sys.stderr)
