"""Reading records: `iter_records` streams one source; `load_splits` reads the config's datasets,
validates, caps (max_samples), splits off eval rows and mixes. Rejected rows are always reported."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

from mgtrainer.data.base import RowError, Spec
from mgtrainer.data.formats import EXPECT, FORMATS, KindError, coerce, detect
from mgtrainer.data.readers import file_kind, folder_files, read_rows
from mgtrainer.data.records import KINDS, Record
from mgtrainer.data.registry import resolve
from mgtrainer.errors import MgtError

OnError = Callable[[str, str], None]


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
    if found is None:
        cols = ", ".join(list(row)[:8]) or "none"
        raise MgtError(f"{source}: cannot detect the data format (columns: {cols}); expected "
                       f"{EXPECT.get(kind or '', 'one of: ' + ', '.join(FORMATS))}, or set data.format")
    return found


def iter_records(path: str | Path, format: str | None = None, kind: str | None = None, *,
                 spec: Spec | None = None, on_error: OnError | None = None) -> Iterator[Record]:
    """Stream the records of one file or folder. A bad row raises MgtError `FILE:LINE: ...` unless
    `on_error(source, reason)` is given, which then receives it and the row is skipped."""
    format = format or (spec.format if spec else None) or None
    _check_names(format, kind)
    path = Path(path)
    if path.is_dir() and file_kind(path) == "folder":  # each file of a plain folder detected on its own
        for file in folder_files(path):
            same = Spec(format or "", dict(spec.columns), dict(spec.tags), spec.ranking) if spec else None
            yield from iter_records(file, format, kind, spec=same, on_error=on_error)
        return
    spec = spec or Spec(format or "")
    if path.suffix.lower() in (".csv", ".tsv"):
        spec.cells = True
    parse, first = None, True
    for source, row in read_rows(path):
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
            rec.source = source
        except KindError as err:
            if first:
                raise MgtError(f"{source}: {err}") from None
            _fail(source, err, on_error)
            continue
        except RowError as err:
            _fail(source, err, on_error)
            continue
        first = False
        yield rec


def _fail(source: str, err: RowError, on_error: OnError | None) -> None:
    if on_error is None:
        raise MgtError(f"{source}: {err}")
    on_error(source, str(err))


def _names(value, field: str) -> list[str]:
    if value is None:
        return []
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    return [str(v) for v in items if str(v)]


def read_dataset(name: str, cfg, kind: str | None, rejected: list, field: str) -> list[Record]:
    """All valid records of one dataset (file, folder or dataset_info.json name), capped at max_samples."""
    path, spec = resolve(name, getattr(cfg, "dataset_dir", None), field)
    fmt = getattr(cfg, "format", None)
    if spec and fmt:
        spec.format = fmt
    cap = getattr(cfg, "max_samples", None)
    out: list[Record] = []
    def keep(source: str, reason: str) -> None:
        rejected.append((source, reason))

    for rec in iter_records(path, None if spec else fmt, kind, spec=spec, on_error=keep):
        if cap is not None and len(out) >= cap:
            break
        out.append(rec)
    return out


def _split(sets: list[list[Record]], val_size, seed: int) -> tuple[list[list[Record]], list[Record]]:
    """Seeded eval split over the pooled rows of all datasets (before any oversampling)."""
    total = sum(len(s) for s in sets)
    if not val_size or total == 0:
        return sets, []
    n = int(val_size) if (isinstance(val_size, int) or float(val_size) >= 1) else round(total * float(val_size))
    if not 0 < n < total:
        raise MgtError(f"val_size {val_size} gives {n} eval rows of {total} (data.val_size); "
                       "expected a ratio in (0, 1) or a row count below the number of rows")
    picked = set(random.Random(seed).sample(range(total), n))
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
    rejected: list[tuple[str, str]] = []
    seed = getattr(data_cfg, "seed", None) or 42
    train_names = _names(data_cfg.train, "data.train")
    if not train_names:
        raise MgtError("no training data (data.train); expected a file, folder or dataset name")
    sets = [read_dataset(n, data_cfg, record_kind, rejected, f"data.train[{i}]") for i, n in enumerate(train_names)]
    eval_names = _names(getattr(data_cfg, "eval", None), "data.eval")
    if eval_names:
        evals = [r for i, n in enumerate(eval_names) for r in read_dataset(n, data_cfg, record_kind, rejected,
                                                                           f"data.eval[{i}]")]
    else:
        sets, evals = _split(sets, getattr(data_cfg, "val_size", None), seed)
    train = _mix(sets, getattr(data_cfg, "mix", None), seed)
    report_rejected(rejected, len(train) + len(evals))
    if not train:
        first = f"; first rejected: {rejected[0][0]}: {rejected[0][1]}" if rejected else ""
        raise MgtError(f"no usable training rows in {', '.join(train_names)} (data.train){first}; "
                       f"expected {EXPECT[record_kind]}")
    return Splits(train, evals, rejected)


def report_rejected(rejected: list[tuple[str, str]], kept: int, first: int = 5) -> None:
    if not rejected:
        return
    lines = [f"data: {len(rejected)} rows rejected ({kept} kept); run `mgtrainer data check FILE` for all of them:"]
    lines += [f"  {src}: {reason}" for src, reason in rejected[:first]]
    print("\n".join(lines), file=sys.stderr)
