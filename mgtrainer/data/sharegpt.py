"""ShareGPT rows (LLaMA-Factory's `sharegpt` formatting): conversations of {from, value} turns with
human/gpt/system/function_call/observation, a system column, tools as a JSON string or list;
chosen/rejected turns for preference; a bool label (kto_tag) for KTO. LLaMA-Factory's `tags`
(role_tag, content_tag, user_tag, ...) and `columns` remap the names."""

from __future__ import annotations

from mgtrainer.data.base import RowError, Spec, extra_columns, finish_row, need_list, need_str, pick, show
from mgtrainer.data.chat import (check_order, label_out, norm_tools, parse_calls, read_label,
                                 split_system, tools_out)
from mgtrainer.data.records import Message, Record
from mgtrainer.toolcalls import calls_to_json

TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
        "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
AUTO = {"messages": ("conversations", "messages", "conversation"), "system": ("system",), "tools": ("tools",),
        "chosen": ("chosen",), "rejected": ("rejected",), "kto_tag": ("kto_tag", "label"),
        "images": ("images",), "audios": ("audios",)}


class _Turns:
    """Reads and writes turns with one row's tag names."""

    def __init__(self, tags: dict):
        self.t = TAGS | tags
        t = self.t
        self.role_of = {t["user_tag"]: "user", t["assistant_tag"]: "assistant", t["observation_tag"]: "tool",
                        t["function_tag"]: "assistant", t["system_tag"]: "system"}
        self.word = {"user": t["user_tag"], "assistant": t["assistant_tag"], "tool": t["observation_tag"],
                     "system": t["system_tag"]}

    def name(self, role: str) -> str:
        return f"{self.word[role]} or {self.t['function_tag']}" if role == "assistant" else self.word[role]

    def parse(self, value, field: str, meta: dict) -> list[Message]:
        t = self.t
        need_list(value, field, dict, f"a list of turns like {{{t['role_tag']}: ..., {t['content_tag']}: ...}}")
        out = []
        for i, turn in enumerate(value):
            where, tag = f"{field}[{i}]", turn.get(t["role_tag"])
            if tag not in self.role_of:
                what = "missing role" if tag is None else f"unknown role {show(tag, 60)}"
                raise RowError(what, f"{where}.{t['role_tag']}", "one of " + ", ".join(self.role_of))
            if t["content_tag"] not in turn:
                raise RowError("missing content", f"{where}.{t['content_tag']}", "a string")
            content = need_str(turn[t["content_tag"]], f"{where}.{t['content_tag']}")
            if tag == t["function_tag"]:
                out.append(Message("assistant", "", parse_calls(content, f"{where}.{t['content_tag']}")))
                meta.setdefault("fc_raw", {})[f"{field}.{i}"] = content
            else:
                out.append(Message(self.role_of[tag], content))
            extra = {k: v for k, v in turn.items() if k not in (t["role_tag"], t["content_tag"])}
            if "weight" in extra:  # read as an extra key it would be kept but not obeyed: the turn would train
                raise RowError("a per-turn weight in a sharegpt row", f"{where}.weight", "OpenAI messages rows for "
                               "per-turn weights (role/content/weight), which honour it; sharegpt has none")
            if extra:
                meta.setdefault("turn_extra", {})[f"{field}.{i}"] = extra
        return out

    def out(self, msgs: list[Message], field: str, meta: dict, own: bool, start: int = 0) -> list[dict]:
        t, res = self.t, []
        for i, m in enumerate(msgs, start):
            key = f"{field}.{i}"
            if m.tool_calls:
                raw = meta.get("fc_raw", {}).get(key) if own else None
                d = {t["role_tag"]: t["function_tag"], t["content_tag"]: raw or calls_to_json(m.tool_calls)}
            else:
                d = {t["role_tag"]: self.word[m.role], t["content_tag"]: m.content}
            if own:
                d.update(meta.get("turn_extra", {}).get(key, {}))
            res.append(d)
        return res

    def check(self, msgs: list[Message], field: str, offset: int, ends=("assistant",)) -> None:
        def tag(i: int) -> str:
            return self.t["function_tag"] if msgs[i].tool_calls else self.word[msgs[i].role]

        check_order(msgs, field, lambda i: f"{field}[{i}].{self.t['role_tag']}", self.name, ends, offset, tag)


def columns(row: dict, spec: Spec) -> dict[str, str | None]:
    cols = spec.columns
    return {name: cols[name] if name in cols else pick(row, auto) for name, auto in AUTO.items()}


def _answer(value, field: str, turns: _Turns, meta: dict) -> list[Message]:
    """A chosen/rejected answer: one turn object (LLaMA-Factory), a list of turns, or a plain string."""
    if isinstance(value, str):
        meta.setdefault("as_str", []).append(field)
        return [Message("assistant", value)]
    if isinstance(value, dict):
        meta.setdefault("as_dict", []).append(field)
        value = [value]
    return turns.parse(value, field, meta)


def parse(row: dict, spec: Spec, kind: str | None = None) -> Record:
    cols = columns(row, spec)
    turns = _Turns(spec.tags)
    meta = {"format": "sharegpt", "order": list(row), "columns": cols, "tags": spec.tags}
    mcol = cols["messages"]
    if mcol not in row:
        raise RowError("missing required column", mcol or "conversations", "conversations: [{from, value}, ...]")
    rec = Record("chat", meta=meta)
    rec.messages = turns.parse(row[mcol], mcol, meta)
    meta["sys_turn"] = bool(rec.messages) and rec.messages[0].role == "system"
    scol = cols["system"]
    if row.get(scol) is not None:
        if meta["sys_turn"]:
            raise RowError("two system prompts", scol, "either a system column or a system first turn")
        rec.messages.insert(0, Message("system", need_str(row[scol], scol)))
    offset = 1 if row.get(scol) is not None else 0
    if cols["tools"] in row:
        rec.tools = norm_tools(row[cols["tools"]], cols["tools"], meta)
    c, x, k = cols["chosen"], cols["rejected"], cols["kto_tag"]
    if c in row or x in row:
        if c not in row or x not in row:
            raise RowError("missing required column", x or "rejected" if c in row else c or "chosen",
                           "both chosen and rejected")
        rec.kind = "preference"
        turns.check(rec.messages, mcol, offset, ("user", "tool"))
        rec.chosen, rec.rejected = _answer(row[c], c, turns, meta), _answer(row[x], x, turns, meta)
        for key, ans in ((c, rec.chosen), (x, rec.rejected)):
            turns.check(rec.messages + ans, key, len(rec.messages))
    elif k in row:
        judged = bool(rec.messages) and rec.messages[-1].role == "assistant"
        rec.kind, rec.label = read_label(row[k], k, kind, judged, meta)
        turns.check(rec.messages, mcol, offset, ("assistant",) if rec.kind == "kto" else ("user", "tool"))
    else:
        turns.check(rec.messages, mcol, offset)
    _media(rec, row, cols, mcol)
    used = {col for col in cols.values() if col in row and row[col] is not None}
    meta["extra"] = extra_columns(row, used)
    return rec


def _media(rec: Record, row: dict, cols: dict, mcol: str) -> None:
    """LLaMA-Factory's images/audios columns: files for the <image>/<audio> placeholders, in order."""
    from mgtrainer.data.media import check_count, column_media

    for kind, key in (("image", "images"), ("audio", "audios")):
        if row.get(cols[key]) is not None:
            rec.media += column_media(row, cols[key], kind)
    check_count(rec, mcol)


def _answer_out(msgs: list[Message], field: str, turns: _Turns, meta: dict, own: bool):
    if own and field in meta.get("as_str", ()):
        return msgs[0].content
    out = turns.out(msgs, field, meta, own)
    return out[0] if len(out) == 1 and (not own or field in meta.get("as_dict", ())) else out


def write(rec: Record) -> dict:
    """A Record as a sharegpt row (the row's own columns and tags when it was read as sharegpt)."""
    meta = rec.meta
    own = meta.get("format") == "sharegpt"
    cols = meta["columns"] if own else {n: a[0] for n, a in AUTO.items()} | {"kto_tag": "label"}
    turns = _Turns(meta.get("tags", {}) if own else {})
    if rec.kind not in ("chat", "preference", "kto", "classify"):
        raise RowError(f"{rec.kind} records cannot be written as sharegpt", "kind", "chat, preference, kto or classify")
    msgs = rec.messages or [Message("user", rec.text or "")]
    system, rest = split_system(msgs)
    out: dict = {}
    if own and meta.get("sys_turn"):
        out[cols["messages"]] = turns.out(msgs, cols["messages"], meta, own)
    else:
        out[cols["messages"]] = turns.out(rest, cols["messages"], meta, own)
        if system is not None:
            out[cols["system"] or "system"] = system
    if rec.kind == "preference":
        out[cols["chosen"]] = _answer_out(rec.chosen, cols["chosen"], turns, meta, own)
        out[cols["rejected"]] = _answer_out(rec.rejected, cols["rejected"], turns, meta, own)
    elif rec.kind in ("kto", "classify"):
        out[cols["kto_tag"]] = label_out(rec.label, meta)
    tools = tools_out(rec.tools, meta, own, as_string=True)
    if tools is not None:
        out[cols["tools"] or "tools"] = tools
    for kind, key in (("image", "images"), ("audio", "audios")):
        if any(m.kind == kind for m in rec.media):
            out[cols[key] or key] = [m.ref for m in rec.media if m.kind == kind]
    return finish_row(out, meta, "sharegpt")
