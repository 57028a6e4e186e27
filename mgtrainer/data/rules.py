"""Rules a record must meet beyond its own row's shape, applied to every record read (checks and training).

    check_record(rec)          empty prompts and completions (prompt, preference, KTO); identical pairs: chosen == rejected, a passage both positive and negative,
                               one passage with two labels (RowError)
    LabelSpellings             labels that differ only in case or whitespace ('pos', 'pos ', ' Pos') are
                               one class misspelt: the first spelling is kept, rows with another are refused
"""

from __future__ import annotations

from mgtrainer.data.base import RowError, show
from mgtrainer.data.records import Message, Record

RULED = ("preference", "kto", "embed", "rerank", "classify", "prompt")  # the record kinds these rules look at


def _turns(msgs: list[Message] | None) -> list[tuple]:
    return [(m.role, m.content, m.tool_calls) for m in msgs or []]


def _empty(msgs: list[Message] | None) -> bool:
    """No answer: no turn, or an assistant turn with neither text nor tool calls."""
    return not msgs or not any(m.content.strip() or m.tool_calls for m in msgs)


def _prompt_turns(rec: Record) -> list[Message]:
    """The turns before the answer: a preference record's messages; a KTO record's before its judged turn."""
    msgs = list(rec.messages)
    while rec.kind == "kto" and msgs and msgs[-1].role == "assistant":
        msgs.pop()
    return msgs


def check_record(rec: Record) -> None:
    """Raise RowError for a pair that teaches nothing or contradicts itself, or an empty prompt."""
    if rec.kind == "prompt" and not rec.messages[-1].content.strip():
        raise RowError("empty prompt", "prompt", "a non-empty user turn to answer")
    turns = [m for m in _prompt_turns(rec) if m.role != "system"] if rec.kind in ("preference", "kto") else []
    if turns and not any(m.content.strip() or m.tool_calls for m in turns):  # no turns at all: rm's plain pairs
        raise RowError("empty prompt", "prompt", "a non-empty user turn before the answers (or no prompt field)")
    if rec.kind == "preference":
        for name in ("chosen", "rejected"):
            if _empty(getattr(rec, name)):
                raise RowError(f"empty {name} answer", name, "a non-empty answer (text or tool calls)")
    if rec.kind == "kto" and _empty([m for m in rec.messages if m.role == "assistant"][-1:]):
        raise RowError("empty judged answer", "messages", "a non-empty last assistant turn")
    if rec.kind == "preference" and _turns(rec.chosen) == _turns(rec.rejected):
        raise RowError("chosen and rejected are the same answer", "rejected",
                       "a rejected answer that differs from the chosen one")
    if rec.kind == "embed" and rec.neg:
        pos = set(rec.pos)
        for i, text in enumerate(rec.neg):
            if text in pos:
                raise RowError(f"passage {show(text, 60)} is both positive and negative", f"neg[{i}]",
                               "each passage either positive or negative")
    if rec.kind == "rerank":
        seen: dict[str, float] = {}
        for i, (text, label) in enumerate(zip(rec.passages, rec.labels)):
            if seen.setdefault(text, label) != label:
                raise RowError(f"passage {show(text, 60)} has labels {seen[text]:g} and {label:g}",
                               f"passages[{i}]", "each passage once, with one label")


class LabelSpellings:
    """The first spelling of each class (label.strip().casefold()) and where it was seen."""

    def __init__(self):
        self.first: dict[str, tuple[str, str]] = {}

    def check(self, rec: Record) -> None:
        """Raise RowError when a label of `rec` is another spelling of a class already seen."""
        if rec.kind != "classify":
            return
        for label in rec.label if isinstance(rec.label, list) else [rec.label]:
            spelling, source = self.first.setdefault(label.strip().casefold(), (label, rec.source))
            if spelling != label:
                raise RowError(f"label {show(label, 40)} differs from {show(spelling, 40)} ({source}) only in case "
                               "or whitespace", "label", "one spelling per class")
