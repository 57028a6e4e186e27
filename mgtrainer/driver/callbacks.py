"""Trainer callbacks: every logged metric to metrics.jsonl; SIGTERM -> checkpoint, then stop; the last eval."""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

from transformers import TrainerCallback

from mgtrainer import atomic
from mgtrainer.errors import MgtError
from mgtrainer.faults import folder_removed


class MetricsJsonl(TrainerCallback):
    """Appends one JSON object per log/eval event: {"step", "epoch", **metrics} (+ perplexity for LMs).

    A training run starts the file afresh, keeping only the rows up to the step it resumes from: a
    second run in the same output_dir does not mix its curve with the first's, a resumed one continues it.
    """

    def __init__(self, output_dir: str, perplexity: bool = False):
        self.path = Path(output_dir) / "metrics.jsonl"
        self.perplexity = perplexity
        self.folder = None  # the inode of the run's folder when training began

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.path.parent.is_dir():  # the run's folder, as claimed
            self.folder = self.path.parent.stat().st_ino
        if not state.is_world_process_zero or not self.path.is_file():
            return
        rows = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= state.global_step]
        rows = rows if state.global_step else []  # a fresh run keeps no row, not even the last run's step-0 eval
        atomic.write_text(self.path, "".join(row + "\n" for row in rows))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, "epoch": state.epoch, **logs}
        for key in ("loss", "eval_loss") if self.perplexity else ():
            if key in logs:
                name = "perplexity" if key == "loss" else "eval_perplexity"
                row.setdefault(name, math.exp(min(logs[key], 50.0)))
        self._same_folder()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")

    def _same_folder(self) -> None:
        """The folder removed (or replaced) while the run writes: stop in one line rather than write the rest of
        the run into a new folder that has lost the curve and checkpoints before it."""
        out = self.path.parent
        if self.folder is not None and (not out.is_dir() or out.stat().st_ino != self.folder):
            raise MgtError(folder_removed(out))


class LastEval(TrainerCallback):
    """The latest evaluate()'s metrics (the dict it returned, what later callbacks added to it included) and
    the step they are for, so a flow whose training just evaluated its last step need not evaluate again."""

    def __init__(self):
        self.step, self.metrics = -1, None

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.step, self.metrics = state.global_step, metrics


class SigtermCheckpoint(TrainerCallback):
    """On SIGTERM or a first SIGINT (Ctrl-C): finish the current step, save checkpoint-{step}, stop training
    (the run exits 128 + the signal: 143 or 130). A second Ctrl-C interrupts at once, as usual."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received: int | None = None
        self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}

    @property
    def exit_code(self) -> int:
        return 128 + int(self.received or 0)

    def _handle(self, signum, frame):
        self.received = self.received or signum
        if signum == signal.SIGINT:  # the next Ctrl-C is the user's KeyboardInterrupt again
            signal.signal(signal.SIGINT, self._previous[signal.SIGINT])

    def on_step_end(self, args, state, control, **kwargs):
        if self.received:
            control.should_save = True
            control.should_training_stop = True
        return control

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
