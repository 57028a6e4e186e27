"""Our records -> what LLaMA-Factory reads (no torch, no llamafactory import here).

`aligned(rec)` is a record in LLaMA-Factory's aligned form (what its converters in
llamafactory/data/converter.py produce: `_prompt`, `_response`, `_system`, `_tools` with roles user /
assistant / observation / function). `lf_row(rec)` is a sharegpt row LLaMA-Factory reads natively with
`ENTRIES[kind]`; `write_dataset_dir` writes the train/eval records as JSONL files plus the
`dataset_info.json` that registers them, so a run needs no hand-written registry.
"""

from __future__ import annotations

import json
from pathlib import Path

from mgtrainer import atomic
from mgtrainer.toolcalls import calls_to_json
from mgtrainer.data.records import Message, Record
from mgtrainer.errors import MgtError

TAG = {"user": "human", "assistant": "gpt", "observation": "observation", "function": "function_call"}
SHAREGPT = {"formatting": "sharegpt", "columns": {"messages": "conversations", "system": "system", "tools": "tools"}}
ENTRIES = {  # record kind -> dataset_info.json entry (without file_name)
    "chat": SHAREGPT,
    "kto": {**SHAREGPT, "columns": {**SHAREGPT["columns"], "kto_tag": "label"}},
    "preference": {**SHAREGPT, "ranking": True,
                   "columns": {**SHAREGPT["columns"], "chosen": "chosen", "rejected": "rejected"}},
    "text": {"columns": {"prompt": "text"}},
}
TOOL_JOIN = "\n</tool_response>\n<tool_response>\n"  # how LF's openai converter joins parallel tool results


def lf_turns(msgs: list[Message], source: str = "") -> tuple[str, list[dict]]:
    """(system, turns) in LF's roles; consecutive tool results merge into one observation turn."""
    system = ""
    if msgs and msgs[0].role == "system":
        system, msgs = msgs[0].content, msgs[1:]
    turns: list[dict] = []
    for m in msgs:
        if m.role == "system":
            raise MgtError(f"{source}: a system turn after the first (messages); expected LLaMA-Factory's one "
                           "system prompt at the start")
        if m.weight == 0:
            raise MgtError(f"{source}: an assistant turn with weight 0 (messages); LLaMA-Factory has no per-turn "
                           "weight and would train it; expected backend: native, or the turn removed")
        if m.tool_calls:
            turns.append({"role": "function", "content": calls_to_json(m.tool_calls)})
        elif m.role == "tool" and turns and turns[-1]["role"] == "observation":
            turns[-1]["content"] += TOOL_JOIN + m.content
        else:
            turns.append({"role": "observation" if m.role == "tool" else m.role, "content": m.content})
    return system, turns


def tools_json(rec: Record) -> str:
    """Tools as LF's JSON string of function specs ("" when none)."""
    if not rec.tools:
        return ""
    return json.dumps([t.get("function", t) for t in rec.tools], ensure_ascii=False)


def _one(answer: list[Message], field: str, source: str) -> dict:
    _, turns = lf_turns(answer, source)
    if len(turns) != 1:
        raise MgtError(f"{source}: {len(turns)} turns in {field} ({field}); expected one assistant answer "
                       "(LLaMA-Factory's pairwise format)")
    return turns[0]


def aligned(rec: Record) -> dict:
    """The record as LF's converters would align it (kto: LF's [answer, ""] / ["", answer] pair)."""
    empty = {"role": "assistant", "content": ""}
    if rec.kind == "text":
        return {"_prompt": [{"role": "user", "content": rec.text}], "_response": [], "_system": "", "_tools": ""}
    system, turns = lf_turns(rec.messages, rec.source)
    if rec.kind == "preference":
        response = [_one(rec.chosen, "chosen", rec.source), _one(rec.rejected, "rejected", rec.source)]
        prompt = turns
    elif rec.kind == "kto":
        prompt, last = turns[:-1], turns[-1:]
        response = last + [empty] if rec.label else [empty] + last
    elif rec.kind == "chat":
        prompt, response = turns[:-1], turns[-1:]
    else:
        raise MgtError(f"{rec.source}: {rec.kind} rows cannot go to LLaMA-Factory (kind); expected chat, "
                       "preference, kto or text rows")
    return {"_prompt": prompt, "_response": response, "_system": system, "_tools": tools_json(rec)}


def lf_row(rec: Record) -> dict:
    """A row LF reads natively with ENTRIES[rec.kind]."""
    if rec.kind == "text":
        return {"text": rec.text}
    system, turns = lf_turns(rec.messages, rec.source)
    row = {"conversations": [{"from": TAG[t["role"]], "value": t["content"]} for t in turns],
           "system": system, "tools": tools_json(rec)}
    if rec.kind == "preference":
        for field, answer in (("chosen", rec.chosen), ("rejected", rec.rejected)):
            turn = _one(answer, field, rec.source)
            row[field] = {"from": TAG[turn["role"]], "value": turn["content"]}
    elif rec.kind == "kto":
        row["label"] = bool(rec.label)
    return row


def write_jsonl(rows, path: Path) -> int:
    """Atomic JSONL write; returns the row count."""
    n = 0
    with atomic.open_atomic(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_dataset_dir(folder: Path, kind: str, train: list[Record], evals: list[Record]) -> tuple[str, str | None]:
    """Write train/eval JSONL + dataset_info.json into `folder`; returns (train name, eval name or None)."""
    if kind not in ENTRIES:
        raise MgtError(f"record kind '{kind}' has no LLaMA-Factory form (task); expected one of {', '.join(ENTRIES)}")
    folder.mkdir(parents=True, exist_ok=True)
    info = {}
    for name, records in (("mgt_train", train), ("mgt_eval", evals)):
        if records:
            write_jsonl((lf_row(r) for r in records), folder / f"{name}.jsonl")
            info[name] = {"file_name": f"{name}.jsonl", **ENTRIES[kind]}
    atomic.write_text(folder / "dataset_info.json", json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    return "mgt_train", ("mgt_eval" if evals else None)
