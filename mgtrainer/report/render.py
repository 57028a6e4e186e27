"""What `mgtrainer report RUN_DIR [RUN_DIR ...] [-o report.html]` does (mgtrainer/cli/train.py, in the train env)."""

from __future__ import annotations

from pathlib import Path


def render(run_dirs: list[str], output: str | None = None) -> Path:
    """Every run's PNGs, then one HTML page of them all; the page's path."""
    from mgtrainer.report.page import write_report
    from mgtrainer.report.plots import report as draw_pngs
    from mgtrainer.report.runs import load_runs

    load_runs(run_dirs)  # every folder has a metrics.jsonl, before anything is written
    for run_dir in run_dirs:
        draw_pngs(run_dir)
    out = Path(output) if output else Path(run_dirs[0]) / "report.html" if len(run_dirs) == 1 else Path("report.html")
    return write_report(run_dirs, out)
