"""The one internal record every input format is normalised into (no torch here).

Which fields are set depends on `kind`:

| kind       | fields                                                                 |
|------------|------------------------------------------------------------------------|
| chat       | messages (system?, user/assistant/tool turns, ends with assistant), tools |
| preference | messages (the prompt turns), chosen, rejected (assistant turn lists), tools |
| kto        | messages (ends with the assistant turn judged), label: bool              |
| text       | text (pretraining document)                                             |
| classify   | text (or messages for a chat-style prompt), label: str | list[str]       |
| embed      | query, pos, neg, pos_scores?, neg_scores?, prompt?                      |
| rerank     | query, passages, labels (relevance per passage, float), scores? (teacher) |
| prompt     | messages (system?, turns ending with a user turn); meta extra columns go to rewards |

Any kind may carry `media` (images, audio): each Message's content marks where they go with the
placeholders `<image>` / `<audio>` (LLaMA-Factory's convention), in order; `media[i]` is the i-th one
(mgtrainer/data/media.py parses, resolves and checks them; references/media.md).

`source` is "file:line" (1-based line, or row number for CSV/parquet) for error messages.
`meta` keeps what a lossless round trip to the row's own format needs (column names, id fields,
unknown columns); converters to other formats ignore it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant", "tool")
KINDS = ("chat", "preference", "kto", "text", "classify", "embed", "rerank", "prompt")


@dataclass(slots=True)
class Message:
    role: str  # one of ROLES
    content: str = ""
    tool_calls: list[dict] | None = None  # OpenAI form: [{"type": "function", "function": {"name", "arguments"}}]
    tool_call_id: str | None = None
    name: str | None = None
    weight: int | None = None  # OpenAI fine-tuning: 0 = do not train this assistant turn, 1 (or None) = train it


@dataclass(slots=True)
class Media:
    kind: str  # "image" | "audio"
    ref: str  # as written in the row: a path (relative or absolute) or a data: URL
    path: str = ""  # resolved: an absolute path, or the data: URL itself ("" until the loader resolves it)


@dataclass(slots=True)
class Record:
    kind: str  # one of KINDS
    messages: list[Message] = field(default_factory=list)
    tools: list[dict] | None = None  # OpenAI tool specs: [{"type": "function", "function": {...}}]
    text: str | None = None
    label: Any = None
    chosen: list[Message] | None = None
    rejected: list[Message] | None = None
    query: str | None = None
    pos: list[str] | None = None
    neg: list[str] | None = None
    pos_scores: list[float] | None = None
    neg_scores: list[float] | None = None
    prompt: str | None = None
    passages: list[str] | None = None
    labels: list[float] | None = None
    scores: list[float] | None = None  # rerank: optional teacher score per passage
    media: list[Media] = field(default_factory=list)
    source: str = ""
    meta: dict = field(default_factory=dict)


def first_weighted(rec: Record) -> str | None:
    """Where the first message with an explicit `weight` is (e.g. "messages[2]"), or None: a format that cannot
    hold weights must refuse such a record rather than write it trained in full."""
    for name in ("messages", "chosen", "rejected"):
        for i, m in enumerate(getattr(rec, name) or ()):
            if m.weight is not None:
                return f"{name}[{i}]"
    return None
