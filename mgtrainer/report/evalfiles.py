"""What each eval leaves beside metrics.jsonl, so the report can show more than numbers (the files are
described in report/stepfiles.py): GenerationEval (sft samples and ROUGE/BLEU at every eval) and
EvalDetails (classify per-class report and confusion matrix at every eval).

Both callbacks act only once training has begun (`mgtrainer eval` builds a trainer too and must not
overwrite a run's files) and only on the main process. Files are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from mgtrainer import atomic
from mgtrainer.report.stepfiles import DETAILS, SAMPLES


class GenerationEval(TrainerCallback):
    """Chat tasks: at every eval, greedy generations on the first eval.generation_samples eval prompts (of
    `records`, the eval conversations the task was handed), scored
    (ROUGE-1/2/L, BLEU-4, exact match as a fraction) and logged as eval metrics; prompts, references and
    outputs saved per step."""

    def __init__(self, trainer, cfg, records: list):
        self.trainer, self.cfg, self.records = trainer, cfg, records
        self.active = False
        self.done: dict[int, dict] = {}  # step -> the metrics generated at that step

    def on_train_begin(self, args, state, control, **kwargs):
        self.active = True

    def on_evaluate(self, args, state, control, metrics=None, model=None, processing_class=None, **kwargs):
        if not self.active or not state.is_world_process_zero or self.cfg.eval.generation_samples <= 0:
            return
        step = state.global_step
        if step not in self.done:
            gen = self._generate(model, processing_class, step)
            if not gen:
                return
            self.done[step] = gen
            self.trainer.log(dict(gen))
        if metrics is not None:
            metrics.update(self.done[step])

    def _generate(self, model, tok, step: int) -> dict:
        from mgtrainer.driver.generate import scored_generations

        if not self.records:
            return {}
        was_training = model.training
        try:
            rows, metrics = scored_generations(model, tok, self.records, self.cfg.eval.generation_samples,
                                               self.cfg.eval.max_new_tokens)
        finally:
            model.train(was_training)
        path = Path(self.cfg.train.output_dir) / SAMPLES / f"step-{step}.jsonl"
        atomic.write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return metrics


def generated_now(trainer) -> dict | None:
    """The generation metrics GenerationEval computed at the trainer's current step, if it did."""
    for cb in trainer.callback_handler.callbacks:
        if isinstance(cb, GenerationEval):
            return cb.done.get(trainer.state.global_step)
    return None


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
