"""Agreement of our data normalisation with LLaMA-Factory's converters, row by row.

    python -m mgtrainer.backends.lf_agree DATASET_DIR LF_ALIGNED.json

LF_ALIGNED.json comes from `python -m mgtrainer.backends.lf_align` run in the llamafactory env. For each
dataset it names, every input row is read with mgtrainer.data (the entry's columns/tags), turned into
LF's aligned form (lf_data.aligned) and compared with what LF's converter made of the same row:
prompt turns, response turns, system and tools. Function-call turns and tools compare as parsed JSON
(same calls / same specs), text as exact strings. A row we reject agrees when LF dropped it too (empty
prompt or response). No torch, no llamafactory import here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mgtrainer.backends.lf_data import aligned
from mgtrainer.data import iter_records
from mgtrainer.data.readers import read_rows
from mgtrainer.data.registry import resolve


def _calls(content: str):
    try:
        calls = json.loads(content)
    except ValueError:
        return content
    calls = calls if isinstance(calls, list) else [calls]
    out = []
    for c in calls:
        args = c.get("arguments") if isinstance(c, dict) else None
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                pass
        out.append({"name": c.get("name") if isinstance(c, dict) else c, "arguments": args})
    return out


def _turns(turns: list[dict]) -> list:
    return [(t["role"], _calls(t["content"]) if t["role"] == "function" else t["content"]) for t in turns]


def _tools(value) -> list:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    value = [value] if isinstance(value, dict) else (value or [])
    return [t.get("function", t) if t.get("type") == "function" else t for t in value]


def diff(ours: dict, theirs: dict) -> list[str]:
    """The fields (prompt, response, system, tools) where two aligned rows differ."""
    out = []
    if _turns(ours["_prompt"]) != _turns(theirs["_prompt"]):
        out.append("prompt")
    if _turns(ours["_response"]) != _turns(theirs["_response"]):
        out.append("response")
    if (ours["_system"] or "") != (theirs["_system"] or ""):
        out.append("system")
    if _tools(ours["_tools"]) != _tools(theirs["_tools"]):
        out.append("tools")
    return out


def compare_dataset(dataset_dir: Path, name: str, lf_rows: list[dict]) -> dict:
    """{"rows", "agree", "differences": [(row index, source, fields or reason)]} for one dataset."""
    path, spec = resolve(name, dataset_dir, name)
    sources = [src for src, _ in read_rows(path)]
    rejected: dict[str, str] = {}
    ours = {r.source: r for r in iter_records(path, spec=spec, on_error=lambda s, why: rejected.__setitem__(s, why))}
    result = {"rows": len(sources), "agree": 0, "differences": []}
    if len(sources) != len(lf_rows):
        result["differences"].append((-1, str(path), f"{len(sources)} rows read here, {len(lf_rows)} by LLaMA-Factory"))
        return result
    for i, (src, theirs) in enumerate(zip(sources, lf_rows)):
        lf_dropped = not theirs["_prompt"] or (not theirs["_response"] and _needs_response(spec))
        if src in rejected:
            why = None if lf_dropped else f"rejected here ({rejected[src]}), kept by LLaMA-Factory"
        else:
            fields = diff(aligned(ours[src]), theirs)
            why = ", ".join(fields) if fields else None
        if why is None:
            result["agree"] += 1
        else:
            result["differences"].append((i, src, why))
    return result


def _needs_response(spec) -> bool:
    """LF drops rows without a response, except pretraining text (prompt only)."""
    return spec is None or spec.format != "text"


def compare(dataset_dir: str | Path, lf_aligned: dict[str, list[dict]]) -> dict[str, dict]:
    return {name: compare_dataset(Path(dataset_dir), name, rows) for name, rows in lf_aligned.items()}


def table(results: dict[str, dict]) -> str:
    lines = [f"{'dataset':28} {'rows':>6} {'agree':>6} {'rate':>8}"]
    for name, r in results.items():
        lines.append(f"{name:28} {r['rows']:6d} {r['agree']:6d} {r['agree'] / max(r['rows'], 1):8.2%}")
    rows, agree = sum(r["rows"] for r in results.values()), sum(r["agree"] for r in results.values())
    lines.append(f"{'all':28} {rows:6d} {agree:6d} {agree / max(rows, 1):8.2%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    results = compare(args[0], json.loads(Path(args[1]).read_text(encoding="utf-8")))
    print(table(results))
    for name, r in results.items():
        for i, src, why in r["differences"][:10]:
            print(f"  {name} row {i} ({src}): {why}")
    return 0 if all(not r["differences"] for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
