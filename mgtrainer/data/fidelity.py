"""What a conversion would lose. A record written as the target format and read back by that format's own
parser must give the same record, compared by what trains or is trained on: every turn's role, text, name,
weight and tool calls (function and arguments), the tools, system prompt, labels, answers, passages, scores and
media references. What is not compared: tool-call ids (formats without them pair a call with its result by
order), a weight of 1 (the same as none: the turn trains), how a row spelled its keys.

    losses(rec, to) -> [(where, what)]    e.g. [("messages[1].name", "'bob'")]; [] = the row is lossless
"""

from __future__ import annotations

import json
import re
from typing import Any

from mgtrainer.data.base import RowError, Spec, show
from mgtrainer.data.formats import FORMATS, KindError, coerce
from mgtrainer.data.records import Message, Record

FIELDS = ("tools", "text", "label", "query", "pos", "neg", "pos_scores", "neg_scores", "prompt", "passages",
          "labels", "scores")
TURNS = ("messages", "chosen", "rejected")


def losses(rec: Record, row: dict, to: str) -> list[tuple[str, str]]:
    """What of `rec` the written `row` (format `to`) does not give back, as (where, what was there)."""
    try:
        back = FORMATS[to].parse(row, Spec(to, dict(rec.meta.get("columns", {})) if rec.meta.get("format") == to
                                            else {}), rec.kind)
        back = coerce(back, rec.kind)
    except (RowError, KindError) as err:  # the writer wrote what its own reader refuses: all of it is at stake
        return [("row", f"a row its own reader refuses ({err})")]
    rec, back, out = _canonical(rec), _canonical(back), []
    for name in TURNS:
        out += _turn_losses(name, getattr(rec, name) or [], getattr(back, name) or [])
    for name in FIELDS:
        a, b = _plain(getattr(rec, name)), _plain(getattr(back, name))
        if a != b and a not in (None, [], {}):
            out.append((name, show(getattr(rec, name), 60)))
    media, again = [(m.kind, m.ref) for m in rec.media], [(m.kind, m.ref) for m in back.media]
    if media != again:
        out.append(("media", show([ref for _, ref in media], 60)))
    return out


def _canonical(rec: Record) -> Record:
    """A classify row's text and a one-user-turn conversation are the same input (what the task reads)."""
    if rec.kind == "classify" and not rec.messages and rec.text is not None:
        return Record(**{**{k: getattr(rec, k) for k in rec.__slots__}, "messages": [Message("user", rec.text)],
                         "text": None})
    return rec


def _turn_losses(name: str, ours: list[Message], theirs: list[Message]) -> list[tuple[str, str]]:
    if [m.role for m in ours] != [m.role for m in theirs]:
        return [(name, f"{len(ours)} turns {show([m.role for m in ours], 80)} (they read back as {len(theirs)}: "
                       f"{show([m.role for m in theirs], 60)})")]
    out = []
    for i, (a, b) in enumerate(zip(ours, theirs)):
        for key, x, y in (("content", a.content or "", b.content or ""), ("name", a.name, b.name),
                          ("weight", 1 if a.weight is None else a.weight, 1 if b.weight is None else b.weight),
                          ("tool_calls", _calls(a.tool_calls), _calls(b.tool_calls))):
            if x != y:
                what = {"content": f"the text {show(x, 60)}", "name": f"the name {show(x, 60)}",
                        "weight": f"weight {x}", "tool_calls": f"the tool calls {show(x, 60)}"}[key]
                if key == "content" and a.tool_calls and not y:
                    what = f"assistant text beside tool calls ({show(x, 40)})"
                out.append((f"{name}[{i}].{key}", what))
    return out


def _calls(calls: list[dict] | None) -> list:
    """Tool calls as (function, arguments): ids and the `type` key left out, JSON-text arguments parsed."""
    out = []
    for call in calls or []:
        fn = call.get("function", call) if isinstance(call, dict) else {}
        out.append((fn.get("name"), _plain(fn.get("arguments"))))
    return out


def _plain(value: Any) -> Any:
    """A value as compared: JSON text (tools given as a string, a tool call's arguments) parsed."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def kind_of(where: str) -> str:
    """messages[3].name -> messages[].name: what --lossy counts by."""
    return re.sub(r"\[\d+\]", "[]", where)
