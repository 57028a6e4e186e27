"""`mgtrainer train` / `mgtrainer eval`: one config load, one backend decision, the task module passed down.

One load per command: when `mgtrainer train` re-runs itself in the train env, the first process hands the
resolved config over in a file (hand_over) and the re-run takes it (load_run) instead of parsing again."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from mgtrainer import tasks
from mgtrainer.errors import MgtError
from mgtrainer.tasks.contract import Data

HANDOFF = "MGT_RESOLVED_CONFIG"  # a file with the config the launching process resolved (hand_over)


def load_run(config, overrides=(), notes: bool = True):
    """RunConfig from a path (or a dict / a RunConfig) and k=v overrides; what it ignored is said once.
    After `mgtrainer train` re-ran itself in the train env, the config its first process resolved is taken
    as it is (hand_over): it is parsed once per command."""
    from mgtrainer.config import RunConfig, load_config

    if isinstance(config, RunConfig):
        return config
    if config is None and not overrides:
        raise MgtError("no config given; expected `mgtrainer train CONFIG.yaml [k=v ...]` (or the settings as "
                       "k=v / --key value alone)")
    cfg = handed_over(config, overrides) or load_config({} if config is None else config, list(overrides))
    if notes:
        say_notes(cfg)
    return cfg


@contextlib.contextmanager
def hand_over(cfg, config, overrides):
    """While open, a process this one starts with the same config and overrides (the re-run in the train
    env) reads `cfg` from a file instead of parsing the config again; the file is removed on close."""
    import tempfile

    from mgtrainer import atomic

    handle, name = tempfile.mkstemp(prefix="mgt-config-", suffix=".json")
    os.close(handle)
    atomic.write_text(name, json.dumps({"argv": [str(config), *map(str, overrides)], "source": cfg.source,
                                        "notes": cfg.notes, "config": cfg.model_dump(mode="json")}))
    previous = os.environ.get(HANDOFF)
    os.environ[HANDOFF] = name
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(HANDOFF, None)
        else:
            os.environ[HANDOFF] = previous
        with contextlib.suppress(OSError):
            os.unlink(name)


def handed_over(config, overrides):
    """The RunConfig a launching process handed over for this same config and overrides, else None.
    Taken once: the variable is removed, so a process this one starts parses its own config."""
    from mgtrainer.config.run import run_config

    name = os.environ.pop(HANDOFF, None)
    try:
        data = json.loads(Path(name).read_text()) if name else None
    except (OSError, ValueError):
        return None
    if not data or data.get("argv") != [str(config), *map(str, overrides)]:
        return None
    cfg = run_config().model_validate(data["config"])
    cfg._notes, cfg._source = data["notes"], data["source"]
    return cfg


def say_notes(cfg) -> None:
    """Keys the config accepted but ignored: said on stderr rather than dropped silently."""
    for note in cfg.notes:
        print(f"note: {note}", file=sys.stderr)


def train(config, overrides=()) -> dict:
    """Train the config's task (or hand it to LLaMA-Factory when backend: llamafactory)."""
    cfg = load_run(config, overrides)
    try:
        if cfg.backend == "llamafactory":
            from mgtrainer.backends import llamafactory

            return llamafactory.train(cfg, [])  # overrides are applied in cfg already
        task = tasks.get(cfg.task.name)
        watch_with_report()
        return task.run(cfg, load_data(cfg, task))
    except MgtError:
        raise
    except Exception as err:  # a full disk, a quota, a read-only folder, deep in a library: one line
        from mgtrainer.faults import machine_fault

        line = machine_fault(err, cfg.train.output_dir)
        if line is None:
            raise
        raise MgtError(line) from None


def watch_with_report() -> None:
    """The driver's trainers carry the live report (report.html at each eval and at the end) and a finished
    run gets its plots: the app attaches the report; the driver and the report know nothing of each other."""
    from mgtrainer.driver import watch
    from mgtrainer.report.callback import report_callbacks
    from mgtrainer.report.plots import report as plots

    watch.watch(callbacks=report_callbacks, finished=plots)


def evaluate(config, overrides=(), model_dir=None) -> dict:
    """Evaluate model_dir (default: train.output_dir/final) on the config's eval data; prints the metrics."""
    cfg = load_run(config, overrides)
    model_dir = model_dir or os.path.join(cfg.train.output_dir, "final")
    if not Path(model_dir).is_dir():
        raise MgtError(f"{model_dir}: no trained model here (--model / train.output_dir); expected a final/ folder "
                       "written by `mgtrainer train`")
    task = tasks.get(cfg.task.name)
    watch_with_report()
    metrics = task.evaluate(cfg, load_data(cfg, task), model_dir)
    print(json.dumps(metrics, indent=2))
    return metrics


def load_data(cfg, task, stream: bool = True) -> Data:
    """The task's records from the data layer (which reports rejected rows on stderr): lists, or with
    data.streaming (and `stream`) a lazy train stream and the eval records."""
    check_streaming(cfg, task)
    if cfg.data.packed:  # the rows come tokenised from the cache (driver/packed.py), read by the task's flow;
        from mgtrainer.data.loaders import load_eval  # data.eval's records still feed the generation eval

        return Data([], load_eval(cfg.data, task.RECORD) if cfg.eval.generation_samples > 0 else [])
    if stream and cfg.data.streaming:
        from mgtrainer.data.stream import Rejects, shuffled, stream_splits

        train_records, eval_records = stream_splits(cfg.data, task.RECORD)
        return Data(train_records, eval_records, shuffle=shuffled, rejects=Rejects())
    from mgtrainer.data import load_splits

    splits = load_splits(cfg.data, task.RECORD)
    if not splits.train:
        raise MgtError(f"no usable {task.RECORD} rows in {cfg.data.train} (data.train); expected at least one")
    return Data(splits.train, splits.eval)


def check_streaming(cfg, task) -> None:
    """Refuse what data.streaming cannot do, naming the field (see references/driver.md, streaming)."""
    if not cfg.data.streaming:
        return
    if not task.STREAMING:
        able = " and ".join(name for name in tasks.TASKS if tasks.get(name).STREAMING)
        raise MgtError(f"data.streaming is supported by {able}, not task '{cfg.task.name}' (data.streaming); "
                       "expected data.streaming: false (the data is then loaded in memory)")
    if cfg.train.max_steps <= 0:
        raise MgtError(f"data.streaming needs train.max_steps > 0, got {cfg.train.max_steps} (train.max_steps); "
                       "expected e.g. max_steps: 1000 (a stream's length is unknown, so epochs cannot be counted)")
    if cfg.train.max_tokens_per_batch or cfg.train.group_by_length:
        raise MgtError("train.max_tokens_per_batch and train.group_by_length sort rows by length, which a stream "
                       "cannot do (train.max_tokens_per_batch); expected them unset with data.streaming")


def record_kind(task_name: str) -> str:
    """The record kind a task trains on (`mgtrainer data check --task T` checks rows as that kind)."""
    return tasks.get(task_name).RECORD
