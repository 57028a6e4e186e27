"""Per-eval files beside metrics.jsonl (standard library only; written by report/evalfiles.py and
driver/gen_eval.py):

    OUTPUT_DIR/eval_samples/step-N.jsonl   sft: prompt, reference, output, rouge-l, exact_match per line
    OUTPUT_DIR/eval_details/step-N.json    classify: labels, per_class report, confusion_matrix
"""

from __future__ import annotations

import re
from pathlib import Path

SAMPLES, DETAILS = "eval_samples", "eval_details"
_STEP = re.compile(r"^step-(\d+)\.jsonl?$")


def step_files(output_dir, kind: str) -> dict[int, Path]:
    """{step: path} of OUTPUT_DIR/<kind>/step-N.json[l], in step order."""
    folder = Path(output_dir) / kind
    found = {int(m.group(1)): p for p in folder.glob("step-*") if (m := _STEP.match(p.name))}
    return dict(sorted(found.items()))


def drop_after(output_dir, step: int) -> None:
    """Remove per-eval files of steps after `step`, all of them at step 0 (a fresh run; a resumed one
    keeps its past evals)."""
    for kind in (SAMPLES, DETAILS):
        for s, path in step_files(output_dir, kind).items():
            if s > step or step == 0:
                path.unlink(missing_ok=True)
