"""The small steps every task's run shares around training: start (seed, folder) and finish (report)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mgtrainer import atomic


def main_process() -> bool:
    """Rank 0 of a torchrun job, or a plain single process: the one that prints, writes and owns the folder."""
    return int(os.environ.get("RANK", "0")) == 0


def start(cfg) -> None:
    """Seed everything and claim the output folder (mgtrainer/driver/rundir.py)."""
    from transformers import set_seed

    from mgtrainer.driver import rundir

    set_seed(cfg.train.seed)
    rundir.claim(cfg)  # lock output_dir, refuse to replace a run, sweep leftovers, write the run record


def conclude(trainer, tok, cfg, head: str, metrics: dict, details: dict | None = None, show=None, **manifest) -> dict:
    """The end of every training flow, once: final/ + its manifest (save.save_final; `manifest` goes there),
    eval_report.json and the plots (finish), then the metrics printed on the main process by `show`
    (default: the eval quality metrics, rounded)."""
    from mgtrainer.driver import save

    save.save_final(trainer, tok, cfg, head, metrics, **manifest)
    finish(trainer, cfg, metrics, details)
    if trainer.is_world_process_zero():
        (show or print_eval)(metrics)
    return metrics


def print_eval(metrics: dict) -> None:
    from mgtrainer.driver.metrics import quality_metrics

    print({k: round(v, 4) for k, v in quality_metrics(metrics).items() if k.startswith("eval_")})


def finish(trainer, cfg, metrics: dict, details: dict | None = None) -> dict:
    """Write eval_report.json (metrics + details such as per-class scores) and the plots."""
    if not trainer.is_world_process_zero():
        return metrics
    out = Path(cfg.train.output_dir)
    report = {"metrics": metrics, **(details or {})}
    atomic.write_text(out / "eval_report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    from mgtrainer.driver import watch

    watch.finished(out)  # the plots, where the app draws them
    return metrics

