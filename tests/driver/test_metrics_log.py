"""metrics.jsonl: a new run in the same output_dir starts the curve afresh; a resumed one keeps its past."""

import json

from transformers import TrainerControl, TrainerState, TrainingArguments

from mgtrainer.driver.callbacks import MetricsJsonl


def _run(out, start_step: int, steps: list[int]) -> list[int]:
    cb, args, control = MetricsJsonl(str(out)), TrainingArguments(output_dir=str(out), report_to="none"), TrainerControl()
    state = TrainerState(global_step=start_step)
    cb.on_train_begin(args, state, control)
    for step in steps:
        state.global_step = step
        cb.on_log(args, state, control, logs={"loss": 1.0 / step})
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_fresh_run_replaces_and_resumed_run_continues(tmp_path):
    assert _run(tmp_path, 0, [1, 2, 3, 4]) == [1, 2, 3, 4]
    assert _run(tmp_path, 2, [3, 4, 5]) == [1, 2, 3, 4, 5]  # resumed from checkpoint-2: 3-4 logged again
    assert _run(tmp_path, 0, [1, 2]) == [1, 2]  # a new run in the same folder
