"""OUTPUT_DIR/report.html kept current during training: written after the first step (drawing it, matplotlib
included, costs ~0.7 CPU-s that need not delay the first step), at every eval (a step-0 eval included) and at
the end, atomically, so it can be watched (reload the page) while a run goes on.

attach_report(trainer, cfg, train_rows) is the one hook driver/trainer.py calls on every trainer it builds;
add_before_report(trainer, cb) lets a task add its own per-eval writer (it runs before the report is drawn);
mgtrainer/driver/gen_eval.py adds the chat tasks' one (samples and ROUGE/BLEU at every eval).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from transformers import EarlyStoppingCallback, TrainerCallback

from mgtrainer.report import runinfo, stepfiles

REPORT = "report.html"


class ReportCallback(TrainerCallback):
    def __init__(self, cfg, train_rows):
        self.cfg, self.train_rows = cfg, train_rows
        self.active = self.pending = False

    def on_train_begin(self, args, state, control, processing_class=None, **kwargs):
        if not state.is_world_process_zero:
            return
        self.active = True
        out = Path(self.cfg.train.output_dir)
        stepfiles.drop_after(out, state.global_step)
        runinfo.write(out, self.cfg, processing_class, self.train_rows, state.max_steps, time.time())
        self.pending = True  # drawn after the first step (or a step-0 eval): not on the way to the first step

    def on_step_end(self, args, state, control, **kwargs):
        if self.pending and not control.should_log:  # a logging step draws it in on_log, after its row
            self.render()

    def on_log(self, args, state, control, **kwargs):
        if self.pending:
            self.render()

    def on_evaluate(self, args, state, control, **kwargs):
        self.render()

    def on_train_end(self, args, state, control, **kwargs):
        self.render()

    def render(self) -> None:
        """Redraw report.html; a failure is reported and never stops training."""
        if not self.active:
            return
        self.pending = False
        from mgtrainer.report.page import write_report

        out = Path(self.cfg.train.output_dir)
        try:
            write_report([out], out / REPORT, required=False)
        except Exception as exc:  # noqa: BLE001 - the run matters more than its report
            print(f"warning: {out / REPORT} not updated: {type(exc).__name__}: {exc}", file=sys.stderr)


def attach_report(trainer, cfg, train_rows) -> None:
    """The live report, on every trainer the driver builds."""
    trainer.add_callback(ReportCallback(cfg, train_rows))


def add_before_report(trainer, callback) -> None:
    """Add a per-eval writer that runs before early stopping (which reads metric_for_best_model, e.g.
    eval_rouge-l, on_evaluate) and before the report is redrawn (so the report shows what it writes)."""
    callbacks = trainer.callback_handler.callbacks
    at = next((i for i, cb in enumerate(callbacks) if isinstance(cb, (EarlyStoppingCallback, ReportCallback))),
              len(callbacks))
    callbacks.insert(at, callback)
