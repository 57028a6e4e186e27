"""Checks and small conversions shared by the chat formats (alpaca, sharegpt, messages)."""

from __future__ import annotations

import json
from typing import Any, Callable

from mgtrainer.data.base import RowError, json_problem, loads, need_list, show, type_name
from mgtrainer.data.records import Message

# which roles may follow which (None = start of the conversation, after an optional system turn)
NEXT = {
    None: ("user",),
    "user": ("assistant",),
    "assistant": ("user",),
    "assistant+tools": ("tool",),
    "tool": ("tool", "assistant"),
}


def _state(msg: Message) -> str:
    return "assistant+tools" if msg.role == "assistant" and msg.tool_calls else msg.role


def check_order(msgs: list[Message], whole: str, path: Callable[[int], str], name: Callable[[str], str],
                ends: tuple[str, ...] = ("assistant",), offset: int = 0,
                tag: Callable[[int], str] | None = None) -> None:
    """Raise RowError unless the turns follow system? user (assistant (tool* assistant)?) user ... rule.

    `path(i)` names turn i in the source row, `name(role)` gives the source's word for a role, so
    messages speak the user's format. `ends` are the roles the last turn may have ('' = any).
    `whole` names the conversation field; `tag(i)` is turn i's own role word where it differs
    from name(role) (sharegpt's function_call).
    """
    if not msgs or len(msgs) == 1 and msgs[0].role == "system":
        raise RowError("empty conversation", whole, "at least one user and one assistant turn")
    tag = tag or (lambda i: name(msgs[i].role))
    prev = None
    for i, msg in enumerate(msgs):
        if msg.role == "system" and i == 0:
            continue
        allowed = NEXT[prev]
        if msg.role not in allowed:
            after = f" after {show(tag(i - 1), 60)}" if prev else " as the first turn"
            want = " or ".join(name(r) for r in allowed)
            raise RowError(f"wrong role order: {show(tag(i), 60)}{after}", path(i - offset), want)
        prev = _state(msg)
    last = msgs[-1].role
    if "" not in ends and last not in ends:
        want = " or ".join(name(r) for r in ends)
        raise RowError(f"conversation ends with {show(tag(len(msgs) - 1), 60)}", path(len(msgs) - 1 - offset),
                       f"the last turn from {want}")


def norm_tools(value: Any, field: str, meta: dict) -> list[dict] | None:
    """Tools as OpenAI specs; accepts a JSON string, one spec, bare function specs. Keeps the raw
    value in meta when normalising changed it (lossless round trip)."""
    if value is None or value == "" or value == []:
        if value is not None:
            meta["tools_raw"] = value
        return None
    tools = value
    if isinstance(value, str):
        try:
            tools = loads(value)  # JSON inside a cell is held to the row's rules: no NaN, no repeated key
        except (ValueError, RecursionError) as err:
            raise RowError(f"tools are not valid JSON: {json_problem(err)[0]}", field,
                           "a JSON list of tool specs") from None
    if isinstance(tools, dict):
        tools = [tools]
    need_list(tools, field, dict, "a list of tool specs (objects)")
    norm = [t if t.get("type") == "function" and "function" in t else {"type": "function", "function": t}
            for t in tools]
    if norm != value:
        meta["tools_raw"] = value
    return norm


def tools_out(tools: list[dict] | None, meta: dict, own: bool, as_string: bool):
    """Tools for a writer: the raw value for the own format, else OpenAI list or LF's JSON string."""
    if own and "tools_raw" in meta:
        return meta["tools_raw"]
    if not tools:
        return None
    if as_string:
        return json.dumps([t.get("function", t) for t in tools], ensure_ascii=False)
    return tools


def parse_calls(value: str, field: str) -> list[dict]:
    """A sharegpt function_call turn's JSON ({name, arguments} or a list of them) -> OpenAI tool_calls."""
    try:
        calls = loads(value)
    except (ValueError, RecursionError) as err:
        raise RowError(f"function call is not valid JSON: {json_problem(err)[0]}", field,
                       '{"name": ..., "arguments": {...}}') from None
    calls = calls if isinstance(calls, list) else [calls]
    out = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise RowError("function call without a name", field, '{"name": ..., "arguments": {...}}')
        args = call.get("arguments", {})
        args = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        out.append({"type": "function", "function": {"name": call["name"], "arguments": args}})
    return out


def norm_label(value: Any, field: str, meta: dict):
    """A classification label: str, int (kept as str, type remembered) or a list of them (multi-label)."""
    if isinstance(value, list):
        return [_one_label(v, f"{field}[{i}]", meta) for i, v in enumerate(value)]
    return _one_label(value, field, meta)


def _one_label(value: Any, field: str, meta: dict) -> str:
    if isinstance(value, list):
        raise RowError("nested list", field, "a label: string, integer or a list of them (not a list of lists)")
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, str):
        raise RowError("empty label", field, "a non-empty label")
    if isinstance(value, int) and not isinstance(value, bool):
        meta["label_int"] = True
        return str(value)
    raise RowError(f"wrong type {type_name(value)}", field, "a label: string, integer or a list of them")


def read_label(value: Any, field: str, kind: str | None, judged: bool, meta: dict) -> tuple[str, Any]:
    """The label rule of every chat format, as (record kind, label): a bool label, a kto task, or a
    label beside a judged answer (the conversation ends with an assistant turn) is KTO's true/false
    verdict on that answer, unless the task is classify; any other label classifies the prompt."""
    if isinstance(value, bool) or kind == "kto" or (judged and kind != "classify"):
        return "kto", need_bool(value, field)
    return "classify", norm_label(value, field, meta)


def label_out(label, meta: dict):
    if meta.get("label_int"):
        return [int(x) for x in label] if isinstance(label, list) else int(label)
    return label


def need_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise RowError(f"wrong type {type_name(value)}", field, "true or false")


def split_system(msgs: list[Message]) -> tuple[str | None, list[Message]]:
    if msgs and msgs[0].role == "system":
        return msgs[0].content, msgs[1:]
    return None, msgs


def plain_pairs(turns: list[Message], target: str) -> list[list[str]]:
    """user/assistant turns as [query, response] pairs; tool turns cannot be written as `target`."""
    for i, msg in enumerate(turns):
        if msg.role == "tool" or msg.tool_calls:
            raise RowError(f"tool turn cannot be written as {target}", f"messages[{i}]",
                           "sharegpt or messages output for tool conversations")
    return [[turns[i].content, turns[i + 1].content] for i in range(0, len(turns) - 1, 2)]
