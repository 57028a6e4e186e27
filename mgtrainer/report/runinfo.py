"""OUTPUT_DIR/run_info.json: what the report needs about a run besides its metrics, written when training
begins: the resolved config, library versions and device, the start time and planned steps, and a data
preview (the first train rows as text pieces marked trained or not; the train rows' token lengths: their
statistics, and up to 100k of them, evenly spaced, for the histogram).
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

from mgtrainer import atomic

FILENAME = "run_info.json"
PACKAGES = ("mgtrainer", "torch", "transformers", "peft", "trl", "accelerate", "datasets", "sentence-transformers")
MAX_PREVIEW_TOKENS = 512
MAX_LENGTHS = 100_000


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        import torch

        out["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception:  # noqa: BLE001 - no torch, or no driver: the report just lacks the device
        pass
    return out


def preview(tok, rows, n: int) -> list[dict]:
    """The first n token rows as [{"pieces": [[text, trained], ...], "tokens", "trained", "label"}]."""
    from mgtrainer.preview import IGNORE, render_row

    out = []
    for row in rows[:n]:
        row = {**row, "input_ids": row["input_ids"][:MAX_PREVIEW_TOKENS],
               **({"labels": row["labels"][:MAX_PREVIEW_TOKENS]} if isinstance(row.get("labels"), list)
                  and len(row["labels"]) == len(row["input_ids"]) else {})}
        text = render_row(tok, row)
        pieces: list[list] = []
        for span in text.spans:
            piece, trained = text.plain[span.start:span.end], str(span.style).startswith("bold green")
            if str(span.style) == "bold cyan":  # the classify label line, shown apart
                continue
            if pieces and pieces[-1][1] == trained:
                pieces[-1][0] += piece
            else:
                pieces.append([piece, trained])
        labels = row.get("labels")
        per_token = isinstance(labels, list) and len(labels) == len(row["input_ids"]) and len(labels) > 1
        out.append({"pieces": pieces, "tokens": len(row["input_ids"]),
                    "trained": sum(lab != IGNORE for lab in labels) if per_token else None,
                    "label": None if per_token else labels})
    return out


def _token_rows(train_rows, n: int):
    """(first n rows, all rows' lengths or None) when the rows are token rows; else ([], None)."""
    if isinstance(train_rows, list):
        rows = train_rows
    elif hasattr(train_rows, "head"):  # a RowStream: only its head is known before training
        return train_rows.head(n), None
    else:
        return [], None
    if not rows or not isinstance(rows[0], dict) or "input_ids" not in rows[0]:
        return [], None
    return rows[:n], [len(r["input_ids"]) for r in rows]


def _sample(lengths: list[int] | None) -> list[int] | None:
    """At most MAX_LENGTHS lengths, evenly spaced (the histogram's shape without a huge run_info.json)."""
    if not lengths or len(lengths) <= MAX_LENGTHS:
        return lengths
    return lengths[:: -(-len(lengths) // MAX_LENGTHS)]


def write(output_dir, cfg, tok, train_rows, max_steps: int, started: float) -> Path:
    n = cfg.train.preview_samples or 3
    head, lengths = _token_rows(train_rows, n)
    info = {"task": cfg.task.name, "config": cfg.model_dump(mode="json"), "versions": versions(),
            "started": started, "max_steps": max_steps,
            "preview": preview(tok, head, n) if head and tok is not None else [],
            "length_stats": {"n": len(lengths), "min": min(lengths), "max": max(lengths),
                             "mean": sum(lengths) / len(lengths)} if lengths else None,
            "lengths": _sample(lengths)}
    return atomic.write_text(Path(output_dir) / FILENAME, json.dumps(info, ensure_ascii=False) + "\n")


def read(output_dir) -> dict:
    path = Path(output_dir) / FILENAME
    return json.loads(path.read_text()) if path.is_file() else {}
