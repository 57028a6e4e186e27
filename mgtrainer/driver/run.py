"""Entry points behind `mgtrainer train/eval` and the small steps every task shares around training."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mgtrainer import atomic
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
    check_streaming(cfg)
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

    check_streaming(cfg)
    splits = load_splits(cfg.data, kind)
    if not splits.train:
        raise MgtError(f"no usable {kind} rows in {cfg.data.train} (data.train); expected at least one")
    if need_eval and not splits.eval:
        raise MgtError("no eval rows (data.eval / data.val_size); expected some for evaluation")
    return splits


STREAMING_TASKS = ("pt", "sft")


def check_streaming(cfg) -> None:
    """Refuse what data.streaming cannot do, naming the field (see references/driver.md, streaming)."""
    if not cfg.data.streaming:
        return
    if cfg.task.name not in STREAMING_TASKS:
        raise MgtError(f"data.streaming is supported by pt and sft, not task '{cfg.task.name}' (data.streaming); "
                       "expected data.streaming: false (the data is then loaded in memory)")
    if cfg.train.max_steps <= 0:
        raise MgtError(f"data.streaming needs train.max_steps > 0, got {cfg.train.max_steps} (train.max_steps); "
                       "expected e.g. max_steps: 1000 (a stream's length is unknown, so epochs cannot be counted)")
    if cfg.train.max_tokens_per_batch or cfg.train.group_by_length:
        raise MgtError("train.max_tokens_per_batch and train.group_by_length sort rows by length, which a stream "
                       "cannot do (train.max_tokens_per_batch); expected them unset with data.streaming")


def start(cfg) -> None:
    """Seed everything and claim the output folder (mgtrainer/driver/rundir.py)."""
    from transformers import set_seed

    from mgtrainer.driver import rundir

    set_seed(cfg.train.seed)
    rundir.claim(cfg)  # lock output_dir, refuse to replace a run, sweep leftovers, write the run record


def finish(trainer, cfg, metrics: dict, details: dict | None = None) -> dict:
    """Write eval_report.json (metrics + details such as per-class scores) and the plots."""
    if not trainer.is_world_process_zero():
        return metrics
    out = Path(cfg.train.output_dir)
    report = {"metrics": metrics, **(details or {})}
    atomic.write_text(out / "eval_report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    from mgtrainer.report.plots import report as plot_report

    plot_report(out)
    return metrics


def scalar_metrics(metrics: dict) -> dict:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


# -- pt and sft: one run flow; the task module (tasks.get(cfg.task.name)) gives what differs -----------
# task.RECORD, task.HEAD; task.tokenizer(cfg, model_cfg) -> (tok, template name for the manifest);
# task.encode(cfg, tok, records) -> Encoded; task.encode_rows(cfg, tok, records) -> lazy rows (streaming);
# task.extra_metrics(cfg, trainer, tok, eval_records) -> dict added to eval loss and perplexity.


def fit_causal_lm(cfg) -> dict:
    """Train (loaded or streamed data), eval loss/perplexity (+ the task's extras), final/ + manifest, plots."""
    from mgtrainer import tasks
    from mgtrainer.driver import collate, model as dm, save, trainer as dt

    check_streaming(cfg)
    task = tasks.get(cfg.task.name)
    start(cfg)
    train_records, eval_records = _causal_records(cfg, task.RECORD)
    tok, template = task.tokenizer(cfg, cfg.model)
    model = dm.apply_finetuning(dm.load_model(cfg.model, task.HEAD, tok), cfg.lora, task.HEAD)
    train_rows, eval_rows = _causal_rows(cfg, task, tok, train_records, eval_records)
    trainer = dt.build_trainer(cfg, model, tok, train_rows, eval_rows, collate.collator(tok, task.HEAD),
                               perplexity=True)
    dt.train(trainer, cfg)
    if cfg.data.streaming:
        train_rows.rejects.report()
    metrics = causal_metrics(cfg, task, trainer, tok, eval_rows, eval_records)
    save.save_final(trainer, tok, cfg, task.HEAD, metrics, template=template)
    finish(trainer, cfg, metrics)
    if trainer.is_world_process_zero():
        print({k: round(v, 4) for k, v in metrics.items() if k.startswith("eval_") and not k.endswith(_TIMING)})
    return metrics


_TIMING = ("_runtime", "_per_second")


def _causal_records(cfg, kind: str):
    """(train records, eval records): lists, or with data.streaming a lazy RecordStream and a list."""
    if not cfg.data.streaming:
        splits = load_data(cfg, kind)
        return splits.train, splits.eval
    from mgtrainer.data.stream import stream_splits

    return stream_splits(cfg.data, kind)


def _causal_rows(cfg, task, tok, train_records, eval_records):
    """Token rows (a list, or a shuffled RowStream), with the summary line and the preview printed."""
    from mgtrainer.driver import preview
    from mgtrainer.driver.tokenize import Encoded

    eval_set = task.encode(cfg, tok, eval_records)
    eval_note = f"; {eval_set.summary('eval')}" if eval_records else ""
    if not cfg.data.streaming:
        train_set = task.encode(cfg, tok, train_records)
        print(train_set.summary("train") + eval_note)
        preview.show(tok, train_set, cfg.train.preview_samples)
        return train_set.rows, eval_set.rows
    from mgtrainer.driver.stream import RowStream

    rows = RowStream(train_records, lambda records: task.encode_rows(cfg, tok, records), cfg.data.buffer_size,
                     cfg.data.seed)
    print(f"train: streaming {train_records.describe()}, shuffle buffer {cfg.data.buffer_size} rows, "
          f"{cfg.train.max_steps} steps{eval_note}")
    if cfg.train.preview_samples:
        head = Encoded(rows=rows.head(cfg.train.preview_samples))
        preview.show(tok, head, cfg.train.preview_samples, title="train (first rows of the stream)")
    return rows, eval_set.rows


def causal_metrics(cfg, task, trainer, tok, eval_rows, eval_records) -> dict:
    """Eval loss and perplexity on eval_rows, plus the task's extra metrics; {} without eval rows."""
    from mgtrainer.driver.metrics import perplexity

    if not eval_rows:
        return {}
    metrics = scalar_metrics(trainer.evaluate())
    metrics["eval_perplexity"] = perplexity(metrics["eval_loss"])
    metrics.update(task.extra_metrics(cfg, trainer, tok, eval_records))
    return metrics


def evaluate_causal_lm(cfg, model_dir) -> dict:
    """Eval metrics of model_dir on the eval split (the train rows when there is none; streaming: the
    eval rows of data.eval or an integer data.val_size, which it then needs)."""
    from mgtrainer import tasks
    from mgtrainer.driver import collate, model as dm, trainer as dt

    task = tasks.get(cfg.task.name)
    src = cfg.model.model_copy(update={"name_or_path": str(model_dir)})
    if cfg.data.streaming:
        _, records = _causal_records(cfg, task.RECORD)
        if not records:
            raise MgtError("evaluating a streaming config needs eval rows (data.eval or data.val_size); expected "
                           "data.eval files or an integer val_size")
    else:
        splits = load_data(cfg, task.RECORD)
        records = splits.eval or splits.train
    tok, _ = task.tokenizer(cfg, src)
    rows = task.encode(cfg, tok, records).rows
    trainer = dt.build_trainer(cfg, dm.load_model(src, task.HEAD, tok), tok, None, rows,
                               collate.collator(tok, task.HEAD), perplexity=True)
    return causal_metrics(cfg, task, trainer, tok, rows, records)
