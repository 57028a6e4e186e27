"""Pre-flight check of one data source: format, kind, row count, per-field statistics, rejected rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mgtrainer.data.base import Spec
from mgtrainer.data.loaders import iter_records
from mgtrainer.data.records import Record
from mgtrainer.data.registry import resolve


@dataclass
class Stat:
    rows: int = 0
    lo: float = float("inf")
    hi: float = 0.0
    total: float = 0.0

    def add(self, n: float) -> None:
        self.rows, self.total = self.rows + 1, self.total + n
        self.lo, self.hi = min(self.lo, n), max(self.hi, n)

    @property
    def mean(self) -> float:
        return self.total / self.rows if self.rows else 0.0


@dataclass
class Report:
    path: Path
    format: str = ""
    kinds: Counter = field(default_factory=Counter)
    rows: int = 0
    stats: dict[str, Stat] = field(default_factory=dict)
    values: dict[str, Counter] = field(default_factory=dict)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    seen: dict[int, str] = field(default_factory=dict, repr=False)  # content hash -> first source
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (source, source of the first copy)
    one_sided: dict[str, list[str]] = field(default_factory=dict)  # rerank: "positive" -> sources without one, ...

    def add(self, name: str, n: float) -> None:
        self.stats.setdefault(name, Stat()).add(n)

    def count(self, name: str, value) -> None:
        self.values.setdefault(name, Counter())[value] += 1


def _content(rec: Record) -> int:
    """A hash of what a record teaches (not where it came from): equal rows hash equal."""
    def turns(msgs):
        return tuple((m.role, m.content, repr(m.tool_calls)) for m in msgs or ())

    label = tuple(rec.label) if isinstance(rec.label, list) else rec.label
    lists = tuple(tuple(x) if x is not None else None for x in (rec.pos, rec.neg, rec.passages, rec.labels))
    return hash((rec.kind, rec.text, label, rec.query, turns(rec.messages), turns(rec.chosen), turns(rec.rejected),
                 lists))


def _observe(rep: Report, rec: Record) -> None:
    rep.rows += 1
    rep.kinds[rec.kind] += 1
    first = rep.seen.setdefault(_content(rec), rec.source)
    if first != rec.source:
        rep.duplicates.append((rec.source, first))
    if rec.messages:
        rep.add("messages (turns)", len(rec.messages))
        rep.add("messages (chars)", sum(len(m.content) for m in rec.messages))
        for m in rec.messages:
            rep.count("roles", m.role + ("+tool_calls" if m.tool_calls else ""))
    for name in ("text", "query", "prompt"):
        if getattr(rec, name) is not None:
            rep.add(f"{name} (chars)", len(getattr(rec, name)))
    for name in ("chosen", "rejected"):
        if getattr(rec, name):
            rep.add(f"{name} (chars)", sum(len(m.content) for m in getattr(rec, name)))
    for name in ("pos", "neg", "passages", "tools"):
        if getattr(rec, name) is not None:
            rep.add(f"{name} (items)", len(getattr(rec, name)))
    if rec.kind in ("classify", "kto"):
        for label in rec.label if isinstance(rec.label, list) else [rec.label]:
            rep.count("label", label)
    if rec.labels is not None:
        for label in rec.labels:
            rep.count("passage label", label)


def check(target: str, kind: str | None = None, dataset_dir: str | None = None, format: str | None = None,
          media_dir: str | None = None) -> Report:
    """Read every row of a file, folder or dataset name; rejected rows are collected, not raised."""
    path, spec = resolve(target, dataset_dir, "target")
    spec = spec or Spec(format or "")
    if format:
        spec.format = format
    rep = Report(path)
    for rec in iter_records(path, kind=kind, spec=spec, on_error=lambda s, r: rep.rejected.append((s, r)),
                            media_dir=media_dir):
        _observe(rep, rec)
        if rec.kind == "rerank" and rec.labels:
            sides = {"positive": any(x > 0 for x in rec.labels), "negative": any(x <= 0 for x in rec.labels)}
            for side in (side for side, has in sides.items() if not has):
                rep.one_sided.setdefault(side, []).append(rec.source)
        if rec.media:  # open every image/audio file: missing, unreadable, wrong sample rate, too long
            from mgtrainer.data.media_check import check_media

            rep.rejected += check_media(rec)
            for m in rec.media:
                rep.count("media", m.kind)
    rep.format = spec.format or "?"
    return rep
