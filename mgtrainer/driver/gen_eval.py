"""The chat tasks' generation eval: at every eval, greedy generations on the first eval.generation_samples eval
prompts, scored and logged as eval metrics, the samples saved per step for the report (mgtrainer/stepfiles.py
names the files). Acts only once training has begun (`mgtrainer eval` builds a trainer too and must not
overwrite a run's files) and only on the main process."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback

from mgtrainer import atomic
from mgtrainer.driver.generate import scored_generations
from mgtrainer.driver.watch import add_before_watchers
from mgtrainer.stepfiles import SAMPLES


def add_generation_eval(trainer, cfg, records: list) -> None:
    """Generation metrics and samples at every eval, on the eval conversations the task was handed."""
    if cfg.eval.generation_samples > 0 and records:
        add_before_watchers(trainer, GenerationEval(trainer, cfg, records))


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
