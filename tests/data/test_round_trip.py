"""Conversions never lose content: every shared and shipped data file (its first rows) goes through every
target format and back to its own; wherever `data convert` does not refuse, the records read back equal the
records read first (compared by what trains: turns' roles, texts, names, weights and tool calls, tools, labels,
answers, passages, scores, media). A refusal is one line. `--lossy` writes anyway and counts what it dropped."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mgtrainer.data import iter_records
from mgtrainer.data.convert import convert
from mgtrainer.data.formats import FORMATS
from mgtrainer.data.readers import read_rows
from mgtrainer.errors import MgtError

REPO = Path(__file__).resolve().parents[2]
ROWS = 12  # the first rows of each file
SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")


def sources(shared: Path) -> list[Path]:
    shipped = sorted((REPO / "script" / "examples").rglob("*"))
    return [p for p in sorted(shared.rglob("*")) + shipped
            if p.suffix in SUFFIXES and p.is_file() and p.name != "dataset_info.json"]


def turns(msgs) -> list | None:
    out = []
    for m in msgs or []:
        calls = []
        for call in m.tool_calls or []:
            fn = call.get("function", call)
            args = fn.get("arguments")
            calls.append((fn.get("name"), json.loads(args) if isinstance(args, str) and args[:1] in "{[" else args))
        out.append((m.role, m.content or "", m.name, 1 if m.weight is None else m.weight, calls))
    return out or None


def essence(rec) -> dict:
    """What trains. A classify row's text is the same input as a conversation of that one user turn."""
    msgs = rec.messages
    if rec.kind == "classify" and not msgs and rec.text is not None:
        msgs, text = [type("M", (), {"role": "user", "content": rec.text, "name": None, "weight": None,
                                     "tool_calls": None})()], None
    else:
        text = rec.text
    out = {"messages": turns(msgs), "chosen": turns(rec.chosen), "rejected": turns(rec.rejected), "text": text,
           "media": [(m.kind, m.ref) for m in rec.media] or None}
    for key in ("tools", "label", "query", "pos", "neg", "pos_scores", "neg_scores", "prompt", "passages", "labels",
                "scores"):
        value = getattr(rec, key)
        out[key] = json.loads(value) if isinstance(value, str) and value[:1] in "[{" else (value or None)
    return out


def records(path: Path, fmt: str | None, kind: str | None) -> list:
    return list(iter_records(path, fmt, kind))


def head(src: Path, dst: Path) -> tuple[list, str]:
    """The first ROWS rows of src as a .jsonl file; (its records, its format)."""
    rows = [row for _, row in itertools.islice(read_rows(src), ROWS)]
    dst.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    for kind in (None, "prompt"):  # grpo's prompt-only rows are read for the task that needs them
        try:
            recs = records(dst, None, kind)
            return recs, recs[0].meta["format"]
        except MgtError:
            continue
    pytest.fail(f"{src}: unreadable")


def test_every_file_through_every_format_and_back(shared_data, tmp_path):
    lossless = refused = 0
    for n, src in enumerate(sources(shared_data)):
        first = tmp_path / f"{n}_{src.stem}.jsonl"
        orig, fmt = head(src, first)
        kind = orig[0].kind
        for to in FORMATS:
            mid, back = first.with_suffix(f".{to}.jsonl"), first.with_suffix(f".{to}.back.jsonl")
            try:
                convert(first, mid, to)
            except MgtError as err:
                assert "\n" not in str(err) and str(err).startswith(str(first)), err
                assert not mid.exists()
                refused += 1
                continue
            there = records(mid, to, kind)
            assert [essence(r) for r in there] == [essence(r) for r in orig], (src, to)
            lossless += 1
            if records(mid, None, None)[0].kind != kind:  # read plainly, a classify row in alpaca is a chat
                continue
            convert(mid, back, fmt)
            assert [essence(r) for r in records(back, fmt, kind)] == [essence(r) for r in orig], (src, to, fmt)
    assert lossless >= 100 and refused >= 100, (lossless, refused)  # both paths are exercised


ROW = {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi", "name": "bob"},
                    {"role": "assistant", "content": "Let me look.", "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "find", "arguments": "{\"q\": \"hi\"}"}}]},
                    {"role": "tool", "tool_call_id": "c1", "content": "found"},
                    {"role": "assistant", "content": "Hello."}]}


@pytest.mark.parametrize("to, first", [
    ("sharegpt", "rows.jsonl:1: the name 'bob' cannot be written as sharegpt (messages[1].name); expected a target "
                 "format that holds it (messages keeps the most), or --lossy to drop it and count what was dropped"),
    ("mdl", "rows.jsonl:1: 5 turns ['system', 'user', 'assistant', 'tool', 'assistant'] (they read back as 3: "
            "['system', 'user', 'assistant']) cannot be written as mdl (messages); expected a target format that holds "
            "it (messages keeps the most), or --lossy to drop it and count what was dropped")])
def test_a_lossy_conversion_is_refused_unless_asked_and_then_counted(tmp_path, to, first):
    src = tmp_path / "rows.jsonl"
    src.write_text(json.dumps(ROW) + "\n" + json.dumps({"messages": ROW["messages"][1:2] + ROW["messages"][4:]}) + "\n")

    def run(*extra):
        return subprocess.run([sys.executable, "-m", "mgtrainer", "data", "convert", "rows.jsonl", "--to", to, "-o",
                               "out.jsonl", *extra], capture_output=True, text=True, cwd=tmp_path)

    proc = run()
    assert (proc.returncode, proc.stderr.strip()) == (2, first) and not (tmp_path / "out.jsonl").exists()
    proc = run("--lossy")
    assert proc.returncode == 0 and (tmp_path / "out.jsonl").is_file()
    said = [line for line in proc.stderr.splitlines() if line.startswith("dropped ")]
    if to == "mdl":  # mdl holds one exchange: the long conversation loses turns, the short one its name
        assert said == ["dropped messages (not held by mdl) in 1 of 2 rows",
                        "dropped messages[].name (not held by mdl) in 1 of 2 rows"]
    else:
        assert "dropped messages[].name (not held by sharegpt) in 2 of 2 rows" in said
        assert "dropped messages[].content (not held by sharegpt) in 1 of 2 rows" in said  # text beside the call
