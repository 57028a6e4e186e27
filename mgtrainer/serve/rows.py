"""Rows in and out of `mgtrainer predict`: CSV or JSONL files, and what each task reads from a row.

Which columns a task reads (the first one present wins):
  sft       messages (a list of {role, content}; a trailing assistant turn is dropped), or
            prompt / instruction (+ input, system) -> rendered with the model's chat template
  pt        text / prompt -> continued as is
  classify  text / sentence / content / input / prompt
  rm        text (already rendered), or messages, or prompt + response -> rendered with the chat template
  embed     text, or query (+ the trained query instruction), or passage / document (+ passage instruction)
  rerank    query + passage / document / text
No torch here; the tokenizer is passed in by the engine code.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

from mgtrainer.errors import MgtError

TEXT_KEYS = ("text", "sentence", "content", "input", "prompt")
PASSAGE_KEYS = ("passage", "document", "text")


class Row(dict):
    """A row of the input file; `where` is "FILE:LINE" for error messages."""

    where: str = "?"


def read_rows(path: str | Path) -> list[Row]:
    """A .csv (header row) or .jsonl/.json (one object a line) file -> rows."""
    p = Path(path)
    if not p.is_file():
        raise MgtError(f"{p}:1: no such input file; expected a .csv or .jsonl file")
    if p.suffix.lower() == ".csv":
        with p.open(newline="", encoding="utf-8") as f:
            return [_row(r, f"{p}:{i}") for i, r in enumerate(csv.DictReader(f), start=2)]
    rows = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise MgtError(f"{p}:{i}: not JSON ({err.msg}); expected one JSON object a line") from None
        if not isinstance(obj, dict):
            raise MgtError(f"{p}:{i}: a {type(obj).__name__}, not an object; expected one JSON object a line")
        rows.append(_row(obj, f"{p}:{i}"))
    return rows


def _row(values: dict, where: str) -> Row:
    row = Row(values)
    row.where = where
    return row


def write_rows(path: str | Path, rows: list[dict]) -> Path:
    """Write rows atomically (temp file + rename) as CSV or JSONL by the file's suffix."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            if p.suffix.lower() == ".csv":
                _write_csv(f, rows)
            else:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _write_csv(f, rows: list[dict]) -> None:
    fields: dict[str, None] = {}
    for row in rows:
        fields.update(dict.fromkeys(row))
    writer = csv.DictWriter(f, fieldnames=list(fields))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                         for k, v in row.items()})


def first(row: Row, keys: tuple[str, ...], what: str) -> str:
    for key in keys:
        if row.get(key) not in (None, ""):
            return str(row[key])
    raise MgtError(f"{row.where}: no {what} ({', '.join(keys)}); expected one of these columns")


def messages_of(row: Row) -> list[dict] | None:
    """The row's chat messages (a list, or a JSON string of one in CSV), or None."""
    value = row.get("messages")
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise MgtError(f"{row.where}: messages is not JSON; expected a list of {{role, content}}") from None
    if not isinstance(value, list) or not all(isinstance(m, dict) and "role" in m for m in value):
        raise MgtError(f"{row.where}: messages is not a list of {{role, content}} (messages)")
    return [{"role": m["role"], "content": m.get("content") or ""} for m in value]


def chat_prompt(row: Row) -> list[dict]:
    """sft: the conversation to answer (a trailing assistant turn, the reference answer, is dropped)."""
    msgs = messages_of(row)
    if msgs is None:
        text = first(row, ("prompt", "instruction", "input", "text"), "prompt")
        if row.get("instruction") and row.get("input"):
            text = f"{row['instruction']}\n{row['input']}"
        msgs = ([{"role": "system", "content": str(row["system"])}] if row.get("system") else [])
        msgs.append({"role": "user", "content": text})
    while msgs and msgs[-1]["role"] == "assistant":
        msgs = msgs[:-1]
    if not msgs:
        raise MgtError(f"{row.where}: no prompt turn in messages; expected a user turn to answer")
    return msgs


def reward_text(row: Row, tok) -> str:
    """rm: the text the reward head scores (rendered with the model's chat template)."""
    if row.get("text") not in (None, ""):
        return str(row["text"])
    msgs = messages_of(row)
    if msgs is None:
        prompt = first(row, ("prompt", "instruction"), "prompt (with response) or text")
        answer = first(row, ("response", "output", "answer", "chosen"), "response")
        msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    return tok.apply_chat_template(msgs, tokenize=False)


def embed_text(row: Row, manifest) -> str:
    if row.get("text") not in (None, ""):
        return str(row["text"])
    if row.get("query") not in (None, ""):
        return (manifest.query_instruction or "") + str(row["query"])
    return (manifest.passage_instruction or "") + first(row, ("passage", "document"), "text")


def rerank_pair(row: Row) -> tuple[str, str]:
    return first(row, ("query",), "query"), first(row, PASSAGE_KEYS, "passage")
