"""Anthropic-HH preference rows: `chosen` and `rejected` are whole transcripts
("\\n\\nHuman: ...\\n\\nAssistant: ..."); the turns they share are the prompt, the rest the two answers.
"""

from __future__ import annotations

import re

from mgtrainer.data.base import RowError, need_str
from mgtrainer.data.records import Message, Record

TURN = re.compile(r"\n\n(Human|Assistant):[ ]?")
ROLES = {"Human": "user", "Assistant": "assistant"}
SPEAKER = {"user": "Human", "assistant": "Assistant"}


def looks_like(row: dict) -> bool:
    """A row whose chosen transcript is HH-style (and no prompt column: then it would be TRL's)."""
    value = row.get("chosen")
    return (isinstance(value, str) and "\n\nHuman:" in value and "\n\nAssistant:" in value
            and not any(k in row for k in ("prompt", "instruction", "messages", "conversations")))


def transcript(text: str, field_: str) -> list[Message]:
    """The turns of one transcript; text before the first speaker tag is refused."""
    parts = TURN.split(text)
    if parts[0].strip():
        raise RowError(f"text before the first speaker tag: {parts[0][:40]!r}", field_,
                       "a transcript of '\\n\\nHuman: ...' and '\\n\\nAssistant: ...' turns")
    return [Message(ROLES[who], body) for who, body in zip(parts[1::2], parts[2::2])]


def parse(row: dict, spec, kind: str | None = None) -> Record:
    chosen = transcript(need_str(row.get("chosen"), "chosen"), "chosen")
    rejected = transcript(need_str(row.get("rejected"), "rejected"), "rejected")
    n = 0
    while n < min(len(chosen), len(rejected)) - 1 and chosen[n] == rejected[n]:
        n += 1
    prompt, chosen, rejected = chosen[:n], chosen[n:], rejected[n:]
    if not prompt or prompt[-1].role != "user":
        raise RowError("the transcripts share no prompt ending with a Human turn", "chosen",
                       "chosen and rejected that start with the same conversation and differ in the last answer")
    for name, turns in (("chosen", chosen), ("rejected", rejected)):
        if turns[0].role != "assistant":
            raise RowError(f"the {name} answer starts with a Human turn", name, "an Assistant answer after the prompt")
    extra = {k: v for k, v in row.items() if k not in ("chosen", "rejected")}
    return Record("preference", messages=prompt, chosen=chosen, rejected=rejected,
                  meta={"format": "hh", "extra": extra})


def _render(turns: list[Message]) -> str:
    return "".join(f"\n\n{SPEAKER.get(m.role, 'Human')}: {m.content}" for m in turns)


def write(rec: Record) -> dict:
    if rec.kind != "preference":
        raise RowError(f"{rec.kind} records cannot be written as hh", "kind", "preference records")
    out = {"chosen": _render(rec.messages + rec.chosen), "rejected": _render(rec.messages + rec.rejected)}
    return out | rec.meta.get("extra", {}) if rec.meta.get("format") == "hh" else out
