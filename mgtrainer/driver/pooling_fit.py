"""The one training flow of the pooling tasks (rm, embed, rerank): a Trainer whose loss and metrics
come from the task, then final/ (+ the task's export), the report and one printed result line.

    spec = PoolingSpec(name, head, collator, loss_fn, metrics_fn, default_metric, manifest={..}, export=fn)
    metrics = fit_pooling(cfg, model, tok, train_rows, eval_rows, spec)
    metrics = evaluate_pooling(name, metrics_fn, model)      # a trained model on the eval rows

loss_fn(model, inputs, gather: bool) -> scalar loss (mgtrainer.driver.losses); metrics_fn(model) ->
{name: value} over the whole eval set (mgtrainer.driver.metrics). No task is imported here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import torch

from mgtrainer.driver.metrics import quality_metrics, scalar_metrics


@dataclass
class PoolingSpec:
    """What differs between the pooling tasks' runs."""

    name: str  # the task's name, for the printed result line
    head: str
    collator: Callable
    loss_fn: Callable
    metrics_fn: Callable
    default_metric: str  # metric_for_best_model unless the config says otherwise
    manifest: dict = field(default_factory=dict)  # extra manifest fields (pooling, template, ...)
    export: Callable | None = None  # export(final_dir): extra files in final/ (sentence-transformers)


def fit_pooling(cfg, model, tok, train_rows, eval_rows, spec: PoolingSpec) -> dict:
    """Fine-tune (LoRA / freeze / full), train, final eval, final/ + manifest, eval_report.json and plots."""
    from mgtrainer.driver.model import apply_finetuning
    from mgtrainer.driver.run import conclude

    model = apply_finetuning(model, cfg.lora, spec.head)
    trainer, metrics = fit(cfg, model, tok, train_rows, eval_rows, spec.collator, spec.loss_fn, spec.metrics_fn,
                           spec.default_metric)
    return conclude(trainer, tok, cfg, spec.head, metrics, show=lambda m: print_metrics(spec.name, m),
                    export=spec.export, **spec.manifest)


def evaluate_pooling(name: str, metrics_fn: Callable, model) -> dict:
    """metrics_fn on a trained model, as eval_* metrics, printed."""
    metrics = {f"eval_{k}": v for k, v in metrics_fn(model).items()}
    print_metrics(name, metrics)
    return metrics


def print_metrics(task: str, metrics: dict) -> None:
    shown = "  ".join(f"{k.removeprefix('eval_')} {v:.4f}" for k, v in quality_metrics(metrics).items())
    print(f"{task} eval: {shown}")


def max_length(cfg, tok, model) -> int:
    """cutoff_len, capped by the model's positions and the tokenizer's own limit."""
    limits = [cfg.data.cutoff_len, getattr(model.config, "max_position_embeddings", None), tok.model_max_length]
    return min(int(x) for x in limits if x)


def load(cfg, head: str, model_dir=None):
    """(tokenizer, model) of cfg.model, or of a trained model_dir; a pad token always set."""
    from mgtrainer.driver import model as dm

    src = cfg.model if model_dir is None else cfg.model.model_copy(update={"name_or_path": str(model_dir)})
    tok = dm.load_tokenizer(src, head)
    return tok, dm.load_model(src, head, tok)


def fit(cfg, model, tok, train_rows, eval_rows, collator, loss_fn, metrics_fn, default_metric: str):
    """Build the driver's trainer around PoolingTrainer, train (resumable), final eval; -> (trainer, metrics)."""
    from mgtrainer.driver import trainer as dt

    cls = functools.partial(_trainer_class(), loss_fn=loss_fn, metrics_fn=metrics_fn)
    trainer = dt.build_trainer(cfg, model, tok, train_rows, eval_rows, collator, default_metric=default_metric,
                               trainer_cls=cls)
    dt.train(trainer, cfg)
    return trainer, scalar_metrics(dt.final_eval(trainer)) if eval_rows else {}


@functools.cache
def _trainer_class():
    from mgtrainer.driver.trainer import BudgetTrainer

    class PoolingTrainer(BudgetTrainer):
        """The driver's Trainer (token-budget / length-grouped batches) whose loss and eval metrics come from the task.

        loss_fn(model, inputs, gather: bool) -> scalar loss; metrics_fn(model) -> {name: value} over the
        whole eval set (retrieval / ranking / pairwise metrics; "loss" too when it can be had from the same
        forward passes, else it is the mean loss_fn over the eval batches). evaluate() logs eval_loss + those metrics
        and fires the callbacks, so best-checkpoint selection and early stopping work as for other tasks.
        """

        def __init__(self, *args, loss_fn, metrics_fn=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_fn, self.metrics_fn = loss_fn, metrics_fn
            self.model_accepts_loss_kwargs = False  # our losses are batch means: Trainer scales for accumulation

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = self.loss_fn(model, inputs, gather=True)
            return (loss, None) if return_outputs else loss

        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval") -> dict[str, float]:
            metrics = self.metrics_fn(self.model) if self.metrics_fn else {}
            if "loss" not in metrics and (eval_dataset is not None or self.eval_dataset is not None):
                metrics["loss"] = self.eval_loss(eval_dataset)
            metrics = {f"{metric_key_prefix}_{k}": v for k, v in metrics.items()}
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            return metrics

        @torch.no_grad()
        def eval_loss(self, eval_dataset=None) -> float:
            """Mean loss over the eval batches (this process's share; no cross-process gather)."""
            self.model.eval()
            losses = [float(self.loss_fn(self.model, self._prepare_inputs(b), gather=False))
                      for b in self.get_eval_dataloader(eval_dataset)]
            self.model.train()
            return sum(losses) / max(1, len(losses))

    return PoolingTrainer


def __getattr__(name: str):
    """`PoolingTrainer` is built on first use so importing this module does not import transformers."""
    if name == "PoolingTrainer":
        return _trainer_class()
    raise AttributeError(name)
