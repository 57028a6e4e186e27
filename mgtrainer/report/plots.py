"""PNG plots from OUTPUT_DIR/metrics.jsonl: train loss, eval loss/perplexity, each eval metric vs step
(with its eval_zeroshot_<metric> starting-point line on the same plot when one is logged)."""

from __future__ import annotations

import json
from pathlib import Path

from mgtrainer.errors import MgtError

SKIP = {"step", "epoch", "learning_rate", "grad_norm", "eval_runtime", "eval_samples_per_second",
        "eval_steps_per_second", "train_runtime", "train_samples_per_second", "train_steps_per_second",
        "total_flos", "train_loss", "perplexity"}
ZEROSHOT = "eval_zeroshot_"  # a starting-point reference logged beside eval_<metric> (rerank's bi-encoder)


def read_metrics(output_dir: str | Path) -> list[dict]:
    path = Path(output_dir) / "metrics.jsonl"
    if not path.is_file():
        raise MgtError(f"{path}: not found; expected the metrics.jsonl a `mgtrainer train` run writes")
    return read_jsonl(path)


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a .jsonl file a run writes; a bad line is one FILE:LINE error."""
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            raise MgtError(f"{path}:{n}: not JSON; expected one JSON object per line") from None
    return rows


def series(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """metric name -> [(step, value)] for every numeric metric worth plotting."""
    out: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key in SKIP or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            out.setdefault(key, []).append((row["step"], float(value)))
    return out


def _plot(path: Path, title: str, lines: dict[str, list[tuple[int, float]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in lines.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o" if len(points) < 30 else None,
                label=name, linestyle="--" if name.startswith(ZEROSHOT) else "-")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(output_dir: str | Path) -> list[Path]:
    """Draw OUTPUT_DIR/plots/*.png; returns the files written."""
    data = series(read_metrics(output_dir))
    plots = Path(output_dir) / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    written = []
    groups = {"loss": {k: data[k] for k in ("loss", "eval_loss") if k in data}}
    if "eval_perplexity" in data:
        groups["eval_perplexity"] = {"eval_perplexity": data["eval_perplexity"]}
    for key in data:
        if key.startswith("eval_") and key not in ("eval_loss", "eval_perplexity"):
            groups.setdefault(key, {})[key] = data[key]
            if key.startswith(ZEROSHOT) and (trained := "eval_" + key.removeprefix(ZEROSHOT)) in data:
                del groups[key]  # the starting point's line goes on the trained metric's plot
                groups.setdefault(trained, {})[key] = data[key]
    for name, lines in groups.items():
        if lines:
            path = plots / f"{name.replace('/', '_')}.png"  # TRL names: rewards/margins
            _plot(path, name, lines)
            written.append(path)
    return written
