"""Entry points behind `mgtrainer train/eval` and the small steps every task shares around training."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mgtrainer.errors import MgtError


def load_run(config, overrides=()):
    """RunConfig from a path (or a dict / a RunConfig) and k=v overrides."""
    from mgtrainer.config import load_config

    if hasattr(config, "task") and hasattr(config, "train"):
        return config
    if config is None:
        raise MgtError("no config given; expected `mgtrainer train CONFIG.yaml [k=v ...]`")
    cfg = load_config(config, list(overrides))
    for note in cfg.notes:  # keys accepted but ignored: say so rather than drop them silently
        print(f"note: {note}", file=sys.stderr)
    return cfg


def train(config, overrides=()) -> dict:
    """Train the config's task (or hand it to LLaMA-Factory when backend: llamafactory)."""
    from mgtrainer import tasks

    cfg = load_run(config, overrides)
    if cfg.backend == "llamafactory":
        from mgtrainer.backends import llamafactory

        return llamafactory.train(cfg, list(overrides))
    return tasks.get(cfg.task.name).run(cfg)


def evaluate(config, overrides=(), model_dir=None) -> dict:
    from mgtrainer import tasks

    cfg = load_run(config, overrides)
    model_dir = model_dir or os.path.join(cfg.train.output_dir, "final")
    if not Path(model_dir).is_dir():
        raise MgtError(f"{model_dir}: no trained model here (--model / train.output_dir); expected a final/ folder "
                       "written by `mgtrainer train`")
    metrics = tasks.get(cfg.task.name).evaluate(cfg, model_dir)
    print(json.dumps(metrics, indent=2))
    return metrics


def load_data(cfg, kind: str, need_eval: bool = False):
    """Splits(train, eval, rejected) from the data layer (which reports rejected rows on stderr)."""
    from mgtrainer.data import load_splits

    splits = load_splits(cfg.data, kind)
    if not splits.train:
        raise MgtError(f"no usable {kind} rows in {cfg.data.train} (data.train); expected at least one")
    if need_eval and not splits.eval:
        raise MgtError("no eval rows (data.eval / data.val_size); expected some for evaluation")
    return splits


def start(cfg) -> None:
    """Seed everything and create the output folder."""
    from transformers import set_seed

    set_seed(cfg.train.seed)
    Path(cfg.train.output_dir).mkdir(parents=True, exist_ok=True)


def finish(trainer, cfg, metrics: dict, details: dict | None = None) -> dict:
    """Write eval_report.json (metrics + details such as per-class scores) and the plots."""
    if not trainer.is_world_process_zero():
        return metrics
    out = Path(cfg.train.output_dir)
    report = {"metrics": metrics, **(details or {})}
    tmp = out / ".eval_report.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, out / "eval_report.json")
    from mgtrainer.report.plots import report as plot_report

    plot_report(out)
    return metrics


def scalar_metrics(metrics: dict) -> dict:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
