"""OpenAI-style rows: `messages` (+ tools, tool_calls, tool role), TRL's prompt/chosen/rejected and
prompt/completion(/label) shapes, KTO (messages + bool label), classification over a chat prompt
(messages + str/int/list label), and OpenAI's preference rows (input/preferred_output/...)."""

from __future__ import annotations

import json

from mgtrainer.data.base import RowError, Spec, extra_columns, finish_row, need_list, need_str, pick, show
from mgtrainer.data.chat import check_order, label_out, norm_tools, read_label, tools_out
from mgtrainer.data.records import ROLES, Message, Record, first_weighted

KNOWN_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name", "weight")
ABSENT = "absent"


def _same(role: str) -> str:
    return role


def parse_turns(value, field: str, meta: dict, as_role: str | None = None, media: list | None = None) -> list[Message]:
    """A list of OpenAI message objects (or one string, read as one `as_role` turn); image_url /
    input_audio content parts become placeholders in the text and Media appended to `media`."""
    if isinstance(value, str) and as_role:
        meta.setdefault("as_str", []).append(field)
        return [Message(as_role, value)]
    need_list(value, field, dict, "a list of message objects with role and content")
    out = []
    for i, m in enumerate(value):
        where = f"{field}[{i}]"
        role = m.get("role")
        if role not in ROLES:
            what = "missing role" if role is None else f"unknown role {show(role, 60)}"
            raise RowError(what, f"{where}.role", "one of " + ", ".join(ROLES))
        content = m.get("content", ABSENT)
        if content is ABSENT or content is None:
            if not (role == "assistant" and m.get("tool_calls")):
                raise RowError("missing content", f"{where}.content", "a string")
            meta.setdefault("content", {})[f"{field}.{i}"] = content
            content = ""
        elif isinstance(content, list):  # OpenAI content parts: text parts only
            meta.setdefault("content", {})[f"{field}.{i}"] = content
            content = _text_parts(content, f"{where}.content", media)
        need_str(content, f"{where}.content")
        calls = m.get("tool_calls")
        if calls is not None:
            need_list(calls, f"{where}.tool_calls", dict, "a list of tool call objects")
        out.append(Message(role, content, calls, m.get("tool_call_id"), m.get("name"), _weight(m, role, where)))
        extra = {k: v for k, v in m.items() if k not in KNOWN_KEYS}
        if extra:
            meta.setdefault("msg_extra", {})[f"{field}.{i}"] = extra
    return out


def _weight(m: dict, role: str, where: str) -> int | None:
    """OpenAI fine-tuning's per-turn `weight`: 0 (the turn is context, not trained) or 1, on assistant turns."""
    if "weight" not in m:
        return None
    w = m["weight"]
    if role != "assistant":
        raise RowError(f"weight on a {role} turn", f"{where}.weight", "weight only on assistant turns (0 or 1)")
    if type(w) is not int or w not in (0, 1):
        shown = json.dumps(w) if w is None or isinstance(w, bool) else show(w, 40)  # as the row spells it
        raise RowError(f"weight {shown}", f"{where}.weight", "0 (do not train this turn) or 1 (train it)")
    return w


def _weight_only_in_chat(rec: Record) -> None:
    """A weight means "do not train this sft turn": in a preference, KTO or classify row it has no meaning."""
    if rec.kind != "chat" and (where := first_weighted(rec)):
        raise RowError(f"weight in a {rec.kind} row", f"{where}.weight", "weight only in chat (sft) rows")


def _text_parts(parts: list, where: str, media: list | None) -> str:
    from mgtrainer.data.media import from_part

    text = []
    for j, part in enumerate(parts):
        got = from_part(part, f"{where}[{j}]")
        if got is not None and media is None:
            raise RowError("media content part", f"{where}[{j}]", "text parts here (media only in chat prompts)")
        if got is not None:
            media.append(got[1])
        text.append(part["text"] if got is None else got[0])
    return "".join(text)


def turns_out(msgs: list[Message], field: str, meta: dict, own: bool) -> list[dict] | str:
    if own and field in meta.get("as_str", ()) and len(msgs) == 1:
        return msgs[0].content
    out = []
    for i, m in enumerate(msgs):
        d = {"role": m.role, "content": m.content}
        if m.tool_calls is not None:
            d["tool_calls"] = m.tool_calls
        if m.tool_call_id is not None:
            d["tool_call_id"] = m.tool_call_id
        if m.name is not None:
            d["name"] = m.name
        if m.weight is not None:
            d["weight"] = m.weight
        if own:
            key = f"{field}.{i}"
            if key in meta.get("content", {}):  # absent, null, or content parts in the source row
                raw = meta["content"][key]
                d.pop("content") if raw == ABSENT else d.update(content=raw)
            d.update(meta.get("msg_extra", {}).get(key, {}))
        out.append(d)
    return out


def _check(msgs: list[Message], field: str, ends=("assistant",), offset: int = 0, split: int | None = None) -> None:
    """The turn order; turns from `split` on came from the completion column and are named there."""
    def path(i: int) -> str:
        return f"completion[{i - split}].role" if split is not None and i >= split else f"{field}[{i}].role"

    check_order(msgs, field, path, _same, ends, offset)


def shared_text(chosen: str, rejected: str) -> int:
    """TRL's implicit prompt of two texts (trl.data_utils.extract_prompt): the characters they share, less a
    space just before the first difference (it starts the answers). Where one text holds all of the other: all
    of the shorter one (TRL leaves its last character to the answers), and the row is refused as an empty answer."""
    m = min(len(chosen), len(rejected))
    n = next((i for i in range(m) if chosen[i] != rejected[i]), m)
    return n - 1 if 0 < n < m and chosen[n - 1] == " " else n


def _implicit_text(rec: Record, row: dict, meta: dict) -> Record:
    """chosen/rejected as whole texts with no prompt column: prompt = their shared start, as TRL reads them (a user
    turn; the answers assistant turns, so the chat template applies as for every string row)."""
    chosen, rejected = row["chosen"], row["rejected"]
    n = shared_text(chosen, rejected)
    if n == min(len(chosen), len(rejected)):  # no answer is left on one side to tell the prompt from
        what = "chosen and rejected are the same text" if chosen == rejected else \
            f"{'chosen' if n == len(chosen) else 'rejected'} is the start of the other text"
        raise RowError(what, "rejected", "two texts that differ after their shared prompt (TRL's implicit prompt)")
    rec.messages = [Message("user", chosen[:n])] if n else []
    rec.chosen, rec.rejected = [Message("assistant", chosen[n:])], [Message("assistant", rejected[n:])]
    meta["implicit_text"] = n
    return rec


def _preference(rec: Record, row: dict, pkey: str | None, meta: dict) -> Record:
    rec.kind = "preference"
    if not pkey and isinstance(row.get("chosen"), str) and isinstance(row.get("rejected"), str):
        return _implicit_text(rec, row, meta)
    if pkey:
        rec.messages = parse_turns(row[pkey], pkey, meta, "user")
        _check(rec.messages, pkey, ("user", "tool"))
    rec.chosen = parse_turns(row["chosen"], "chosen", meta, "assistant")
    rec.rejected = parse_turns(row["rejected"], "rejected", meta, "assistant")
    if not pkey:  # TRL implicit prompt: the shared prefix of chosen and rejected
        n = 0
        while n < min(len(rec.chosen), len(rec.rejected)) - 1 and rec.chosen[n] == rec.rejected[n]:
            n += 1
        if not n and any(m.role != "assistant" for m in rec.chosen + rec.rejected):
            raise RowError(f"chosen and rejected share no prompt turns (chosen starts with a {rec.chosen[0].role} "
                           "turn)", "chosen", "two transcripts that begin with the same prompt turns (TRL's implicit "
                           "prompt), or a prompt column beside the two answers")
        rec.messages, rec.chosen, rec.rejected = rec.chosen[:n], rec.chosen[n:], rec.rejected[n:]
        meta["implicit"] = n
    offset = len(rec.messages) if pkey else 0
    for key in ("chosen", "rejected"):
        _check(rec.messages + getattr(rec, key), key, offset=offset)
    return rec


def parse(row: dict, spec: Spec, kind: str | None = None) -> Record:
    cols = spec.columns
    mkey = cols.get("messages") or pick(row, ("messages", "conversations", "conversation", "prompt"))
    label_key = cols.get("kto_tag") or cols.get("label") or ("kto_tag" if "kto_tag" in row else "label")
    meta = {"format": "messages", "order": list(row)}
    rec = Record("chat", meta=meta)
    if "tools" in row:
        rec.tools = norm_tools(row["tools"], "tools", meta)
    if "chosen" in row or "rejected" in row:
        for key in ("chosen", "rejected"):
            if key not in row:
                raise RowError("missing required column", key, "chosen and rejected columns")
        rec = _preference(rec, row, mkey, meta)
        used = {mkey, "chosen", "rejected", "tools"}
    elif mkey is None:
        raise RowError("missing required column", "messages", "an OpenAI row with messages: [{role, content}, ...]")
    else:
        rec.messages = parse_turns(row[mkey], mkey, meta, "user", rec.media)
        used = {mkey, "tools", label_key}
        if "completion" in row:
            rec.messages = rec.messages + parse_turns(row["completion"], "completion", meta, "assistant")
            meta["split"] = len(rec.messages) - (1 if isinstance(row["completion"], str) else len(row["completion"]))
            used.add("completion")
        if label_key in row:
            judged = bool(rec.messages) and rec.messages[-1].role == "assistant"
            rec.kind, rec.label = read_label(row[label_key], label_key, kind, judged, meta)
        ends = ("user", "tool") if rec.kind == "classify" else ("assistant",)
        if kind == "prompt" and rec.messages and rec.messages[-1].role == "user":  # prompt-only (grpo)
            rec.kind, ends = "prompt", ("user",)
        _check(rec.messages, mkey, ends, split=meta.get("split"))
        _lf_media(rec, row, cols, used)
    _weight_only_in_chat(rec)
    meta["columns"] = {"messages": mkey, "label": label_key}
    meta["extra"] = extra_columns(row, used)
    return rec


def _lf_media(rec: Record, row: dict, cols: dict, used: set) -> None:
    """LLaMA-Factory's images/audios columns beside messages (content parts already gave rec.media)."""
    from mgtrainer.data.media import COLUMNS, check_count, column_media

    for kind, default in COLUMNS.items():
        col = cols.get(default) or default
        if row.get(col) is not None:
            rec.media += column_media(row, col, kind)
            rec.meta.setdefault("media_cols", {})[kind] = col
            used.add(col)
    check_count(rec, rec.meta.get("columns", {}).get("messages") or "messages")


def _media_out(rec: Record, out: dict, mkey: str, own: bool) -> None:
    """Media back out: the row's own images/audios columns, else OpenAI content parts in the user turns."""
    from mgtrainer.data.media import content_parts

    cols = rec.meta.get("media_cols", {}) if own else {}
    for kind, col in cols.items():
        out[col] = [m.ref for m in rec.media if m.kind == kind]
    if rec.media and not cols and not (own and rec.meta.get("content")):
        queue = list(rec.media)
        for turn in out[mkey]:
            turn["content"] = content_parts(turn["content"], queue)


def write(rec: Record) -> dict:
    """A Record as an OpenAI/TRL row: messages(+label) for chat, kto, classify; prompt/chosen/rejected
    for preference; for rows read from this format, the row's own shape."""
    meta = rec.meta
    own = meta.get("format") == "messages"
    mkey = meta.get("columns", {}).get("messages") if own else None
    out = {}
    if rec.kind == "preference" and own and "implicit_text" in meta:  # back to the two whole texts
        prompt = "".join(m.content or "" for m in rec.messages)
        out["chosen"], out["rejected"] = prompt + rec.chosen[0].content, prompt + rec.rejected[0].content
    elif rec.kind == "preference":
        if not (own and "implicit" in meta):
            out[mkey or "prompt"] = turns_out(rec.messages, mkey or "prompt", meta, own)
            out["chosen"] = turns_out(rec.chosen, "chosen", meta, own)
            out["rejected"] = turns_out(rec.rejected, "rejected", meta, own)
        else:
            out["chosen"] = turns_out(rec.messages + rec.chosen, "chosen", meta, own)
            out["rejected"] = turns_out(rec.messages + rec.rejected, "rejected", meta, own)
    elif rec.kind in ("chat", "kto", "classify"):
        msgs = rec.messages or [Message("user", rec.text or "")]
        mkey = mkey or "messages"
        if own and "split" in meta:
            out[mkey] = turns_out(msgs[: meta["split"]], mkey, meta, own)
            out["completion"] = turns_out(msgs[meta["split"]:], "completion", meta, own)
        else:
            out[mkey] = turns_out(msgs, mkey, meta, own)
        if rec.kind != "chat":
            out[meta.get("columns", {}).get("label", "label") if own else "label"] = label_out(rec.label, meta)
        if rec.media and isinstance(out[mkey], list):
            _media_out(rec, out, mkey, own)
    else:
        raise RowError(f"{rec.kind} records cannot be written as messages", "kind", "chat, preference, kto or classify")
    tools = tools_out(rec.tools, meta, own, as_string=False)
    if tools is not None:
        out["tools"] = tools
    return finish_row(out, meta, "messages")


def parse_openai_preference(row: dict, spec: Spec, kind: str | None = None) -> Record:
    """OpenAI preference fine-tuning rows: {input: {messages, tools?}, preferred_output, non_preferred_output}."""
    meta = {"format": "openai_preference", "order": list(row)}
    for key in ("input", "preferred_output", "non_preferred_output"):
        if key not in row:
            raise RowError("missing required column", key, "input, preferred_output and non_preferred_output")
    inp = row["input"]
    if not isinstance(inp, dict) or "messages" not in inp:
        raise RowError("missing messages", "input.messages", "input: {messages: [...]}")
    rec = Record("preference", meta=meta)
    rec.messages = parse_turns(inp["messages"], "input.messages", meta)
    _check(rec.messages, "input.messages", ("user", "tool"))
    if "tools" in inp:
        rec.tools = norm_tools(inp["tools"], "input.tools", meta)
    rec.chosen = parse_turns(row["preferred_output"], "preferred_output", meta)
    rec.rejected = parse_turns(row["non_preferred_output"], "non_preferred_output", meta)
    for key, turns in (("preferred_output", rec.chosen), ("non_preferred_output", rec.rejected)):
        _check(rec.messages + turns, key, offset=len(rec.messages))
    _weight_only_in_chat(rec)
    meta["input_extra"] = {k: v for k, v in inp.items() if k not in ("messages", "tools")}
    meta["extra"] = extra_columns(row, {"input", "preferred_output", "non_preferred_output"})
    return rec


def write_openai_preference(rec: Record) -> dict:
    meta = rec.meta
    own = meta.get("format") == "openai_preference"
    if rec.kind != "preference":
        raise RowError(f"{rec.kind} records cannot be written as openai_preference", "kind", "preference")
    inp = {"messages": turns_out(rec.messages, "input.messages", meta, own)}
    tools = tools_out(rec.tools, meta, own, as_string=False)
    if tools is not None:
        inp["tools"] = tools
    if own:
        inp.update(meta.get("input_extra", {}))
    out = {"input": inp, "preferred_output": turns_out(rec.chosen, "preferred_output", meta, own),
           "non_preferred_output": turns_out(rec.rejected, "non_preferred_output", meta, own)}
    return finish_row(out, meta, "openai_preference")
