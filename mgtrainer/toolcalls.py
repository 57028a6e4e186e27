"""OpenAI tool_calls -> LLaMA-Factory's function-call JSON, shared by the data layer (sharegpt rows, the files the
LLaMA-Factory backend reads) and the driver (LLaMA-Factory's templates encode a function turn from it). Light:
standard library only, importable by every layer."""

from __future__ import annotations

import json


def calls_to_json(calls: list[dict]) -> str:
    """OpenAI tool_calls -> a sharegpt function_call value (LLaMA-Factory's JSON form): {"name", "arguments"}
    with the arguments parsed, a list when there are several."""
    items = []
    for call in calls:
        fn = call.get("function", call)
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            args = fn.get("arguments")
        items.append({"name": fn.get("name"), "arguments": args})
    return json.dumps(items[0] if len(items) == 1 else items, ensure_ascii=False)
