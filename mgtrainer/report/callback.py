"""OUTPUT_DIR/report.html kept current during training: written after the first step (drawing it, matplotlib
included, costs ~0.7 CPU-s that need not delay the first step), at every eval (a step-0 eval included) and at
the end, atomically, so it can be watched (reload the page) while a run goes on.

report_callbacks(cfg, train_rows) is what the app layer hands the driver (driver/watch.py) for every trainer it
builds; a task's per-eval writers (driver/gen_eval.py, driver/eval_details.py) run before it, so the report
drawn at an eval shows what they wrote.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from transformers import TrainerCallback

from mgtrainer import stepfiles
from mgtrainer.report import runinfo

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


def report_callbacks(cfg, train_rows) -> list:
    """The live report's callbacks for a trainer (the app hands this to driver/watch.py)."""
    return [ReportCallback(cfg, train_rows)]
