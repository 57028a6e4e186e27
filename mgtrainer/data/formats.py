"""The format registry (name -> parse, write), detection from a row's columns, and record-kind coercion.

Every converter is a pure function: `parse(row: dict, spec, kind) -> Record` and
`write(record) -> dict`. Writing a record back to the format it was read from gives the same row.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from mgtrainer.data import alpaca, flat, hh, kaldi, messages, sharegpt
from mgtrainer.data.base import RowError
from mgtrainer.data.records import Record


class Format(NamedTuple):
    parse: Callable
    write: Callable
    about: str


FORMATS: dict[str, Format] = {
    "alpaca": Format(alpaca.parse, alpaca.write,
                     "instruction/input/output (or prompt/query/response), system, history"),
    "sharegpt": Format(sharegpt.parse, sharegpt.write, "conversations: [{from, value}], system, tools"),
    "messages": Format(messages.parse, messages.write,
                       "OpenAI messages: [{role, content}], tools; TRL prompt/chosen/rejected"),
    "openai_preference": Format(messages.parse_openai_preference, messages.write_openai_preference,
                                "input.messages, preferred_output, non_preferred_output"),
    "hh": Format(hh.parse, hh.write, "Anthropic-HH transcripts in chosen/rejected (shared turns = the prompt)"),
    "text": Format(flat.parse_text, flat.write_text, "{text} rows or .txt lines"),
    "classify": Format(flat.parse_classify, flat.write_classify, "text + label (str, int or list)"),
    "embed": Format(flat.parse_embed, flat.write_embed,
                    "query + pos/neg lists (or positive/negative_N), scores, prompt"),
    "rerank": Format(flat.parse_rerank, flat.write_rerank, "query + passages: [{text, label}]"),
    "mdl": Format(flat.parse_mdl, flat.write_mdl, "MDL-Toolkit CSV: audio, system_prompt, user_prompt, prediction"),
    "asr": Format(kaldi.parse, kaldi.write, "speech: audio + text (Kaldi wav.scp + text read as these rows)"),
}
EXPECT = {
    "chat": "chat rows (messages, conversations or instruction/output)",
    "preference": "preference rows (chosen and rejected)",
    "kto": "KTO rows (messages with a true/false label)",
    "text": "text rows ({text} or .txt lines)",
    "classify": "classification rows (text and label, or prompt and response)",
    "embed": "embedding rows (query, pos and neg)",
    "rerank": "rerank rows (query and passages with labels, or query, pos and neg)",
    "prompt": "prompt-only rows (prompt, messages ending with a user turn, or instruction/input)",
}


class KindError(RowError):
    """The row is fine but of another kind than the task needs (a whole-file problem)."""


def _chat_key(row: dict) -> str | None:
    for key in ("conversations", "messages", "conversation"):
        if isinstance(row.get(key), list):
            return key
    return None


def detect(row: dict, kind: str | None = None) -> str | None:
    """The format of a row from its columns (None when nothing fits); `kind` breaks ties."""
    keys = row.keys()
    if isinstance(row.get("input"), dict) and "preferred_output" in keys:
        return "openai_preference"
    if hh.looks_like(row):
        return "hh"
    if "user_prompt" in keys or "system_prompt" in keys or ("audio" in keys and "prediction" in keys):
        return "mdl"
    if "audio" in keys and "text" in keys and not any(k in keys for k in flat.LABEL_COLS):
        return "asr"
    if "query" in keys and "passages" in keys:
        return "rerank"
    if any(k in keys for k in flat.QUERY_COLS) and any(k in keys for k in flat.POS_COLS):
        return "embed"
    chat = _chat_key(row)
    if chat:  # conversations are sharegpt, messages are OpenAI, unless the turns say otherwise
        first = row[chat][0] if row[chat] and isinstance(row[chat][0], dict) else {}
        if "from" in first or "value" in first:
            return "sharegpt"
        return "messages" if "role" in first or chat == "messages" else "sharegpt"
    if "prompt" in keys and ("completion" in keys or any(isinstance(row.get(k), list) for k in ("prompt", "chosen"))):
        return "messages"
    if "chosen" in keys and isinstance(row["chosen"], list) and "instruction" not in keys:
        return "messages"
    if kind == "text" and any(k in keys for k in flat.TEXT_COLS):
        return "text"
    if any(k in keys for k in alpaca.AUTO["prompt"]):
        return "alpaca"
    if isinstance(row.get("chosen"), str) and isinstance(row.get("rejected"), str):
        return "messages"  # TRL's implicit-prompt text rows: the prompt is the characters both share
    if "text" in keys or "content" in keys:
        return "classify" if any(k in keys for k in flat.LABEL_COLS) else "text"
    return None


def coerce(rec: Record, kind: str) -> Record:
    """Turn a record into the kind a task needs where the meaning is clear, else raise KindError."""
    if rec.kind == kind:
        return rec
    if kind == "rerank" and rec.kind == "embed":
        neg = rec.neg or []
        scores = rec.pos_scores + rec.neg_scores if rec.pos_scores and rec.neg_scores is not None else None
        return Record("rerank", query=rec.query, passages=rec.pos + neg, labels=[1.0] * len(rec.pos) + [0.0] * len(neg),
                      scores=scores, prompt=rec.prompt, source=rec.source, meta=rec.meta)
    if kind == "embed" and rec.kind == "rerank":
        pos = [p for p, label in zip(rec.passages, rec.labels) if label > 0]
        if not pos:
            raise RowError("no positive passage", "passages", "at least one passage with label > 0")
        neg = [p for p, label in zip(rec.passages, rec.labels) if label <= 0]
        out = Record("embed", query=rec.query, pos=pos, neg=neg, prompt=rec.prompt, source=rec.source, meta=rec.meta)
        if rec.scores is not None and None not in rec.scores:
            out.pos_scores = [s for s, label in zip(rec.scores, rec.labels) if label > 0]
            out.neg_scores = [s for s, label in zip(rec.scores, rec.labels) if label <= 0]
        return out
    if kind == "classify" and rec.kind == "chat":
        return _chat_to_classify(rec)
    if kind == "prompt" and rec.kind == "chat":  # the final answer becomes the reference rewards may read
        rec.kind, rec.meta["reference"] = "prompt", rec.messages[-1].content
        rec.messages = rec.messages[:-1]
        return rec
    raise KindError(f"{rec.kind} rows where {kind} rows are needed", "row", EXPECT[kind])


def _chat_to_classify(rec: Record) -> Record:
    msgs = rec.messages
    prompt = msgs[:-1]
    turns = [m.role for m in prompt if m.role != "system"]
    if turns != ["user"] or rec.tools or msgs[-1].tool_calls:
        raise KindError(f"a conversation of {len(msgs)} turns", "messages",
                        "one user prompt and one assistant answer (the label) for classify")
    return Record("classify", text=prompt[-1].content, label=msgs[-1].content,
                  messages=prompt if len(prompt) > 1 else [], source=rec.source, meta=rec.meta)


def to_row(rec: Record, fmt: str | None = None) -> dict:
    """A record as a row of `fmt` (default: the format it was read from)."""
    return FORMATS[fmt or rec.meta["format"]].write(rec)
