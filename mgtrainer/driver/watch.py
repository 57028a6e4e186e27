"""What watches a run, handed to the driver as plain callables by the layer above (the app attaches the live
report and the plots; the driver knows no report):

    watch(callbacks, finished)   callbacks(cfg, train_rows) -> TrainerCallbacks for every trainer the driver
                                 builds; finished(output_dir) once a run's eval_report.json is written
    add_before_watchers(t, cb)   a task's per-eval writer (eval samples, per-class details): it runs before
                                 early stopping (which reads metric_for_best_model on_evaluate) and before the
                                 watchers, so a report drawn at that eval shows what it wrote

Nothing is watched unless the app says so: a task run from a test or a script trains the same, without report.
"""

from __future__ import annotations

from typing import Callable

_WATCHERS: dict[str, Callable | None] = {"callbacks": None, "finished": None}
_MARK = "_mgt_watcher"  # set on the watchers' callbacks, so that per-eval writers go before them


def watch(callbacks: Callable | None = None, finished: Callable | None = None) -> None:
    """Set the watchers of the runs of this process (None: that kind of watcher off)."""
    _WATCHERS.update(callbacks=callbacks, finished=finished)


def attach(trainer, cfg, train_rows) -> None:
    """The watchers' callbacks on a trainer the driver built."""
    for cb in (_WATCHERS["callbacks"] or (lambda *_: []))(cfg, train_rows):
        setattr(cb, _MARK, True)
        trainer.add_callback(cb)


def add_before_watchers(trainer, callback) -> None:
    from transformers import EarlyStoppingCallback

    callbacks = trainer.callback_handler.callbacks
    at = next((i for i, cb in enumerate(callbacks) if isinstance(cb, EarlyStoppingCallback)
               or getattr(cb, _MARK, False)), len(callbacks))
    callbacks.insert(at, callback)


def finished(output_dir) -> None:
    """A run's files are final (eval_report.json written): the watchers may draw from them."""
    if _WATCHERS["finished"]:
        _WATCHERS["finished"](output_dir)
