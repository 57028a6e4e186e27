"""classify's per-eval file beside metrics.jsonl, so the report can show more than numbers (the files are
described in mgtrainer/stepfiles.py): EvalDetails (per-class report and confusion matrix at every eval).
The chat tasks' samples are written by mgtrainer/driver/gen_eval.py (it generates).

The callback acts only once training has begun (`mgtrainer eval` builds a trainer too and must not
overwrite a run's files) and only on the main process. Files are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from mgtrainer import atomic
from mgtrainer.stepfiles import DETAILS


class EvalDetails(TrainerCallback):
    """classify: the per-class report and confusion matrix that compute_metrics put in `details`,
    saved at every eval as eval_details/step-N.json."""

    def __init__(self, output_dir: str, details: dict):
        self.output_dir, self.details = output_dir, details
        self.active = False

    def on_train_begin(self, args, state, control, **kwargs):
        self.active = True

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not self.active or not state.is_world_process_zero or not self.details:
            return
        path = Path(self.output_dir) / DETAILS / f"step-{state.global_step}.json"
        atomic.write_text(path, json.dumps(self.details, ensure_ascii=False) + "\n")
