"""Rules a record must meet beyond its own row's shape, applied to every record read (checks and training).

    check_record(rec)          empty prompts and completions (prompt, preference, KTO); identical pairs: chosen ==
                               rejected (or equal but for whitespace), a passage both positive and negative, one
                               passage with two labels (RowError)
    LabelSpellings             labels that differ only in case, whitespace, Unicode form or invisible characters
                               ('pos', 'pos ', ' Pos', 'p\u200bos') are one class misspelt: the first spelling is
                               kept, rows with another are refused (mgtrainer/labels.py says what counts)
"""

from __future__ import annotations

from mgtrainer.data.base import RowError, cut, show
from mgtrainer.labels import class_key, looks_same
from mgtrainer.data.records import Message, Record

RULED = ("preference", "kto", "embed", "rerank", "classify", "prompt")  # the record kinds these rules look at


def _turns(msgs: list[Message] | None, spacing: bool = True) -> list[tuple]:
    """The turns as compared (spacing=False: whitespace runs read as one space, none at the ends)."""
    return [(m.role, m.content if spacing or not isinstance(m.content, str) else " ".join(m.content.split()),
             m.tool_calls) for m in msgs or []]


def _no_empty_text(rec: Record) -> None:
    """A retrieval row's query and passages are what the model embeds: an empty one teaches nothing."""
    if not (rec.query or "").strip():
        raise RowError("empty query", "query", "a query with text")
    for name in ("pos", "neg", "passages"):
        for i, text in enumerate(getattr(rec, name) or []):
            if not isinstance(text, str) or not text.strip():
                raise RowError("empty passage", f"{name}[{i}]", "passages with text")


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
    if rec.kind == "preference" and _turns(rec.chosen, False) == _turns(rec.rejected, False):
        raise RowError("chosen and rejected differ only in whitespace", "rejected",
                       "a rejected answer that differs from the chosen one in more than spacing")
    if rec.kind in ("embed", "rerank"):
        _no_empty_text(rec)
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
    """The first spelling of each class (class_key) and where it was seen."""

    def __init__(self):
        self.first: dict[str, tuple[str, str]] = {}

    def check(self, rec: Record) -> None:
        """Raise RowError when a label of `rec` is another spelling of a class already seen."""
        if rec.kind != "classify":
            return
        for label in rec.label if isinstance(rec.label, list) else [rec.label]:
            spelling, source = self.first.setdefault(class_key(label), (label, rec.source))
            if spelling != label:
                new, old = show(label, 40), show(spelling, 40)
                if looks_same(new, old):  # spell out the code points (a combining accent, a full-width letter)
                    new, old = cut(ascii(label), 40), cut(ascii(spelling), 40)
                raise RowError(f"label {new} differs from {old} ({source}) only in case, whitespace, Unicode "
                               "normalisation or invisible characters", "label", "one spelling per class")
