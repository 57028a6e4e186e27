"""Preview: N rendered train samples with the trained tokens highlighted, and a length histogram.

Printed before training (train.preview_samples) and by `mgtrainer data preview CFG` (mgtrainer.app.preview).
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

IGNORE = -100


def render_row(tok, row: dict) -> Text:
    """Token pieces; trained ones (labels != -100) in bold green on a dark background."""
    text = Text()
    labels = row.get("labels")
    per_token = isinstance(labels, list) and len(labels) == len(row["input_ids"]) and len(labels) > 1
    ids, prev = row["input_ids"], ""
    for i in range(len(ids)):
        cur = tok.decode(ids[: i + 1])
        piece, prev = cur[len(prev):], cur
        trained = per_token and labels[i] != IGNORE
        text.append(piece, style="bold green on grey15" if trained else "dim")
    if not per_token and labels is not None:
        text.append(f"\n  -> label {labels}", style="bold cyan")
    return text


def histogram(lengths: list[int], bins: int = 10, width: int = 40) -> str:
    if not lengths:
        return "(no rows)"
    lo, hi = min(lengths), max(lengths)
    step = max(1, -(-(hi - lo + 1) // bins))
    counts = [0] * bins
    for n in lengths:
        counts[min(bins - 1, (n - lo) // step)] += 1
    top = max(counts)
    lines = []
    for b, c in enumerate(counts):
        if c:
            lines.append(f"{lo + b * step:>6}-{lo + (b + 1) * step - 1:<6} {'#' * max(1, c * width // top)} {c}")
    return "\n".join(lines)


def show(tok, encoded, n: int, title: str = "train", console: Console | None = None) -> None:
    import os

    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 shows samples
        return
    console = console or Console()
    rows = encoded.rows
    for i, row in enumerate(rows[:n]):
        labels = row.get("labels")
        trained = sum(lab != IGNORE for lab in labels) if isinstance(labels, list) else 0
        console.rule(f"{title} sample {i} - {len(row['input_ids'])} tokens, {trained} trained")
        console.print(render_row(tok, row))
    lengths = [len(r["input_ids"]) for r in rows]
    console.rule(f"{title}: token lengths")
    console.print(histogram(lengths), markup=False)
    console.print(encoded.summary(title))

