"""Alpaca rows (LLaMA-Factory's `alpaca` formatting): instruction/input/output or prompt/query/response,
optional system, history ([query, response] pairs) and tools; chosen/rejected strings or a ranked
output list for preference; a bool label (kto_tag) for KTO; the response as the label for classify."""

from __future__ import annotations

from mgtrainer.data.base import RowError, Spec, finish_row, layout, need_list, need_str, pick
from mgtrainer.data.chat import (label_out, norm_label, norm_tools, plain_pairs, read_label, split_system,
                                 tools_out)
from mgtrainer.data.records import Message, Record

AUTO = {
    "prompt": ("instruction", "prompt"),
    "query": ("input", "query"),
    "response": ("output", "response", "completion"),
    "system": ("system",),
    "history": ("history",),
    "tools": ("tools",),
    "chosen": ("chosen",),
    "rejected": ("rejected",),
    "kto_tag": ("kto_tag", "label"),
}


def columns(row: dict, spec: Spec) -> dict[str, str | None]:
    """Canonical name -> the row's column (dataset_info.json `columns` win over auto-detection)."""
    cols = spec.columns
    return {name: cols[name] if name in cols else pick(row, auto) for name, auto in AUTO.items()}


def _history(value, field: str) -> list[Message]:
    out = []
    for i, pair in enumerate(need_list(value, field)):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise RowError("wrong history entry", f"{field}[{i}]", "a [query, response] pair of strings")
        out += [Message("user", pair[0]), Message("assistant", pair[1])]
    return out


def _prompt(row: dict, cols: dict, meta: dict, cells: bool) -> list[Message]:
    pcol, qcol = cols["prompt"], cols["query"]
    if pcol not in row:
        raise RowError("missing required column", pcol or "instruction", "instruction (or prompt) with output")
    p, q = row[pcol], None
    if type(p) is not str:
        need_str(p, pcol)
    if qcol in row:
        q = meta["query"] = row[qcol]
        if type(q) is not str:
            need_str(q, qcol, allow_none=True)
        meta["plen"] = len(p)
    user = p + "\n" + q if p and q else p or q or ""  # LLaMA-Factory joins the non-empty parts with "\n"
    system, history = row.get(cols["system"]), row.get(cols["history"])
    if cells:  # an empty CSV/TSV cell means absent (kept in meta for the round trip)
        for col, value in ((cols["system"], system), (cols["history"], history)):
            if value == "":
                meta["extra"][col] = ""
        system, history = system or None, history or None
    msgs = [] if system is None else [Message("system", need_str(system, cols["system"]))]
    if history is not None:
        msgs += _history(history, cols["history"])
    msgs.append(Message("user", user))
    return msgs


def parse(row: dict, spec: Spec, kind: str | None = None) -> Record:
    cols, order, extra = layout(row, spec, columns)
    meta = {"format": "alpaca", "order": order, "columns": cols, "extra": {k: row[k] for k in extra} if extra else {}}
    msgs = _prompt(row, cols, meta, spec.cells)
    r, c, x, k = cols["response"], cols["chosen"], cols["rejected"], cols["kto_tag"]
    answer = row.get(r) if r else None
    if type(answer) is str and kind is None and not (c or x or k or cols["tools"]):  # the common, fast case
        msgs.append(Message("assistant", answer))
        return Record("chat", msgs, meta=meta)
    rec = Record("chat", msgs, meta=meta)
    if cols["tools"] in row:
        rec.tools = norm_tools(row[cols["tools"]], cols["tools"], meta)
    if kind == "classify" and r in row:
        rec.kind, rec.label = "classify", norm_label(row[r], r, meta)
        rec.text = rec.messages[-1].content
        rec.messages = rec.messages if len(rec.messages) > 1 else []
    elif c in row or x in row:
        if c not in row or x not in row:
            raise RowError("missing required column", x or "rejected" if c in row else c or "chosen",
                           "both chosen and rejected")
        rec.kind = "preference"
        rec.chosen = [Message("assistant", need_str(row[c], c))]
        rec.rejected = [Message("assistant", need_str(row[x], x))]
    elif r in row and isinstance(row[r], list):
        ranked = need_list(row[r], r, str, "a ranked list of at least 2 strings (best first)")
        if len(ranked) < 2:
            raise RowError(f"{len(ranked)} ranked responses", r, "a ranked list of at least 2 strings (best first)")
        rec.kind, meta["ranked"] = "preference", ranked[2:]
        rec.chosen, rec.rejected = [Message("assistant", ranked[0])], [Message("assistant", ranked[1])]
    elif r in row:
        rec.messages.append(Message("assistant", need_str(row[r], r)))
        if k in row:  # beside the answer: a KTO verdict (classify takes the answer itself as the label)
            rec.kind, rec.label = read_label(row[k], k, kind, True, meta)
    elif kind == "prompt":  # prompt-only (grpo): no answer needed
        rec.kind = "prompt"
    else:
        raise RowError("missing required column", r or "output", "output (or response) with the answer")
    return rec


def _prompt_out(rec: Record, out: dict, names: dict, meta: dict, own: bool) -> None:
    system, turns = split_system(rec.messages)
    if rec.kind == "classify" and not rec.messages:
        turns = [Message("user", rec.text or "")]
    last = turns[-1].content if turns and turns[-1].role == "user" else ""
    history = plain_pairs(turns[:-1], "alpaca")
    out[names["prompt"]] = last
    if not own:
        out["input"] = ""
    elif names["query"] in meta.get("order", ()):  # split the user turn back into instruction + input
        q = out[names["query"]] = meta.get("query")
        out[names["prompt"]] = last[: meta["plen"]] if q else last
    if system is not None:
        out[names["system"] or "system"] = system
    if history or own and names["history"] in meta.get("order", ()):
        out[names["history"] or "history"] = history


def write(rec: Record) -> dict:
    """A Record as an alpaca row (the row's own column names when it was read as alpaca)."""
    meta = rec.meta
    own = meta.get("format") == "alpaca"
    names = meta["columns"] if own else {n: a[0] for n, a in AUTO.items()} | {"kto_tag": "label"}
    out: dict = {}
    if rec.kind == "chat" or rec.kind == "kto":
        system, turns = split_system(rec.messages)
        if not turns or turns[-1].role != "assistant" or turns[-1].tool_calls:
            raise RowError("conversation does not end with an assistant answer", "messages", "a final assistant turn")
        copy = Record(rec.kind, messages=rec.messages[:-1])
        _prompt_out(copy, out, names, meta, own)
        out[names["response"]] = turns[-1].content
        if rec.kind == "kto":
            out[names["kto_tag"] or "label"] = rec.label
    elif rec.kind == "preference":
        _prompt_out(rec, out, names, meta, own)
        if own and "ranked" in meta:
            out[names["response"]] = [rec.chosen[0].content, rec.rejected[0].content] + meta["ranked"]
        else:
            out[names["chosen"]], out[names["rejected"]] = rec.chosen[-1].content, rec.rejected[-1].content
    elif rec.kind == "classify":
        _prompt_out(rec, out, names, meta, own)
        out[names["response"]] = label_out(rec.label, meta)
    else:
        raise RowError(f"{rec.kind} records cannot be written as alpaca", "kind", "chat, preference, kto or classify")
    tools = tools_out(rec.tools, meta, own, as_string=True)
    if tools is not None:
        out[names["tools"] or "tools"] = tools
    return finish_row(out, meta, "alpaca")
