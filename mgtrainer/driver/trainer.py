"""TrainingArguments from the config, the Trainer (token-budget batching), train with resume + SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from transformers import EarlyStoppingCallback, Trainer, TrainingArguments

from mgtrainer.driver import ckpt_check, watch
from mgtrainer.driver.callbacks import LastEval, MetricsJsonl, SigtermCheckpoint
from mgtrainer.driver.model import gpu_bf16
from mgtrainer.driver.run import main_process
from mgtrainer.driver.shard import sharding_args
from mgtrainer.errors import MgtError


def has_accelerator() -> bool:
    """CUDA/MPS present; without one, use_cpu=True makes torchrun/accelerate launch use gloo DDP on CPU."""
    import torch

    return torch.cuda.is_available() or torch.backends.mps.is_available()


def check_trackers(names: list[str]) -> None:
    """train.report_to's trackers are installed here, or one line before the Trainer is built (transformers
    raises from deep inside the Trainer's set-up, with a traceback)."""
    from transformers.integrations import get_available_reporting_integrations
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    have = get_available_reporting_integrations()
    for name in names:
        if name in ("all", "none"):
            continue
        if name not in INTEGRATION_TO_CALLBACK:
            raise MgtError(f"train.report_to: '{name}' is not a tracker transformers knows; expected some of "
                           f"{', '.join(sorted(INTEGRATION_TO_CALLBACK))}, or none")
        if name not in have:
            raise MgtError(f"train.report_to: '{name}' is not installed in this env (installed: "
                           f"{', '.join(have) or 'none'}); expected an installed tracker, or none (metrics.jsonl "
                           f"and the plots are always written), or {name} added to the env's lock")


def check_liger(hf_args: dict) -> None:
    """use_liger_kernel (LLaMA-Factory's enable_liger_kernel) where Liger's kernels can run: they are Triton
    kernels, so a GPU and the liger-kernel package; else one line (transformers would raise inside the Trainer)."""
    if not hf_args.get("use_liger_kernel"):
        return
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        raise MgtError("train.use_liger_kernel: Liger's kernels are Triton kernels, which need a GPU, and this "
                       "machine has none; expected use_liger_kernel false (LLaMA-Factory's enable_liger_kernel) here")
    if importlib.util.find_spec("liger_kernel") is None:
        raise MgtError("train.use_liger_kernel: the liger-kernel package is not in this env; expected it added to "
                       "the train env's lock (env/train/requirements.in), or use_liger_kernel false")


def tracker_env(names: list[str], output_dir: str) -> dict[str, str]:
    """Where wandb and mlflow write when the user's environment says nothing: wandb offline (no account, no
    network; `wandb sync OUTPUT_DIR/wandb/offline-run-*` uploads it later) under OUTPUT_DIR, mlflow's file store
    OUTPUT_DIR/mlruns. Set in os.environ before the Trainer's callbacks read it; the user's own settings win."""
    env = {}
    everything = "all" in names
    if "wandb" in names or everything:
        if not os.environ.get("WANDB_MODE") and not os.environ.get("WANDB_API_KEY"):
            env["WANDB_MODE"] = "offline"
        if not os.environ.get("WANDB_DIR"):
            env["WANDB_DIR"] = str(Path(output_dir).resolve())
        if not os.environ.get("WANDB_PROJECT"):
            env["WANDB_PROJECT"] = "mgtrainer"
    if ("mlflow" in names or everything) and not os.environ.get("MLFLOW_TRACKING_URI"):
        env["MLFLOW_TRACKING_URI"] = (Path(output_dir).resolve() / "mlruns").as_uri()
        env["MLFLOW_ALLOW_FILE_STORE"] = "true"  # mlflow 3 keeps the file store in maintenance mode, opt-in
    return env


def training_args(cfg, default_metric: str = "loss", args_cls=None, **extra) -> TrainingArguments:
    """transformers TrainingArguments (or args_cls, e.g. TRL's DPOConfig) from cfg.train (names are the same)."""
    t = cfg.train
    eval_strategy = t.eval_strategy or "no"
    best = t.load_best_model_at_end or t.early_stopping_patience is not None
    if best and eval_strategy == "no":
        raise MgtError("load_best_model_at_end/early_stopping_patience need evaluation (train.eval_strategy); "
                       "expected eval data (data.eval or data.val_size) and eval_strategy steps or epoch")
    eval_steps = t.eval_steps or t.logging_steps
    check_trackers(t.report_to)
    check_liger(t.hf_args)
    trackers = tracker_env(t.report_to, t.output_dir)
    if trackers:
        Path(t.output_dir).mkdir(parents=True, exist_ok=True)
        os.environ.update(trackers)
        if main_process():
            print("tracking: " + "; ".join(f"{k}={v}" for k, v in trackers.items()), flush=True)
    kwargs = dict(
        output_dir=t.output_dir, learning_rate=t.learning_rate, num_train_epochs=t.num_train_epochs,
        max_steps=t.max_steps, per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps, warmup_steps=t.warmup_steps or t.warmup_ratio,
        weight_decay=t.weight_decay, optim=t.optim, lr_scheduler_type=t.lr_scheduler_type,
        bf16=t.bf16 or (cfg.model.dtype == "auto" and gpu_bf16()), fp16=t.fp16, seed=t.seed, data_seed=t.seed,
        logging_steps=t.logging_steps, eval_strategy=eval_strategy, eval_steps=eval_steps,
        eval_on_start=eval_strategy != "no" if t.eval_on_start is None else t.eval_on_start,
        save_strategy=eval_strategy if best else t.save_strategy, save_steps=eval_steps if best else t.save_steps,
        save_total_limit=t.save_total_limit, load_best_model_at_end=best,
        metric_for_best_model=t.metric_for_best_model or (default_metric if best else None),
        greater_is_better=t.greater_is_better, report_to=t.report_to or "none",
        max_grad_norm=t.max_grad_norm,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        remove_unused_columns=False,
        dataloader_pin_memory=False, disable_tqdm=False, save_only_model=False, use_cpu=not has_accelerator(),
    )
    # always explicit: TRL's configs (DPO/KTO/GRPO) default gradient checkpointing to True, which silently traded
    # ~1/3 more compute per step for memory against train.gradient_checkpointing: false (the new name, so no warning)
    kwargs["activation_checkpointing"] = bool(t.gradient_checkpointing)
    kwargs.update(sharding_args(t, has_accelerator()))  # ddp_timeout, ddp_find_unused_parameters, fsdp, deepspeed
    kwargs.update(extra)
    kwargs.update(t.hf_args)  # any other TrainingArguments field the config carries, as the user wrote it
    return (args_cls or TrainingArguments)(**kwargs)


class BudgetTrainer(Trainer):
    """Trainer whose train batches hold at most `max_tokens_per_batch` padded tokens (length-sorted), or with
    group_by_length `per_device_train_batch_size` rows of similar length in shuffled order (driver/collate.py);
    it iterates rank-local rows (a packed cache's own shards) without sharding them again."""

    max_tokens_per_batch: int | None = None
    group_by_length: bool = False

    def row_lengths(self) -> list[int]:
        """Each train row's padded length, which the budget and the grouping sort by (a subclass whose
        collator pads differently says so here)."""
        from mgtrainer.driver.collate import row_length

        return [row_length(row) for row in self.train_dataset]

    def get_train_dataloader(self):
        if getattr(self.train_dataset, "rank_local", False):  # this rank's own shards (driver/packed.py)
            from mgtrainer.driver.collate import rank_loader

            return rank_loader(self.train_dataset, self._train_batch_size, self.data_collator, self.args.seed,
                               self.args.dataloader_drop_last)
        if not (self.max_tokens_per_batch or self.group_by_length):
            return super().get_train_dataloader()
        from mgtrainer.driver.collate import budget_loader, grouped_loader

        lengths = self.row_lengths()
        where = dict(seed=self.args.seed, rank=self.args.process_index, world=self.args.world_size)
        if self.max_tokens_per_batch:
            return budget_loader(self.train_dataset, lengths, self.max_tokens_per_batch, self.data_collator,
                                 flat=getattr(self.data_collator, "flat", False), **where)  # FlatCollator
        return grouped_loader(self.train_dataset, lengths, self._train_batch_size, self.data_collator, **where)


class CausalTrainer(BudgetTrainer):
    """BudgetTrainer whose training loss projects only the trained positions onto the vocabulary
    (driver/kept_logits.py: the same loss, a fraction of the lm_head's work on chat rows)."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        from mgtrainer.driver import kept_logits

        if (return_outputs or self.label_smoother is not None or "labels" not in inputs
                or not kept_logits.applies(model, self.accelerator.unwrap_model(model))):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        count = num_items_in_batch if self.model_accepts_loss_kwargs else None  # else Trainer divides by GA
        loss = kept_logits.kept_logits_loss(model, inputs, count)
        if self.args.average_tokens_across_devices and count is not None:
            loss = loss * self.accelerator.num_processes  # as Trainer.compute_loss: DDP averages gradients
        return loss


def build_trainer(cfg, model, tok, train_rows, eval_rows, collate_fn, compute_metrics=None,
                  default_metric: str = "loss", trainer_cls=None, perplexity: bool = False, args_cls=None,
                  trainer_kwargs=None, **extra_args):
    """The Trainer with metrics.jsonl, SIGTERM checkpointing and early stopping wired in; args_cls and
    trainer_kwargs let a task use a TRL trainer (DPOConfig + ref_model=...)."""
    if main_process():
        ckpt_check.refuse_without_room(cfg, model)  # before any step: a full disk at a checkpoint loses work
    args = training_args(cfg, default_metric, args_cls, **extra_args)
    callbacks = [MetricsJsonl(cfg.train.output_dir, perplexity), SigtermCheckpoint(), LastEval()]
    if cfg.train.early_stopping_patience is not None:
        callbacks.append(EarlyStoppingCallback(cfg.train.early_stopping_patience))
    cls = trainer_cls or BudgetTrainer
    trainer = cls(model=model, args=args, train_dataset=train_rows, eval_dataset=eval_rows or None,
                  data_collator=collate_fn, processing_class=tok, compute_metrics=compute_metrics,
                  callbacks=callbacks, **(trainer_kwargs or {}))
    trainer.max_tokens_per_batch = cfg.train.max_tokens_per_batch
    trainer.group_by_length = cfg.train.group_by_length
    watch.attach(trainer, cfg, train_rows)  # what the app watches a run with (the live report)
    return trainer


def resume_path(cfg) -> str | None:
    from mgtrainer.driver import rundir

    return rundir.resume_path(cfg)  # `auto`: the newest complete checkpoint of the same run


def train(trainer, cfg):
    """trainer.train() with resume; on SIGTERM (or a first Ctrl-C) the checkpoint is saved and the process
    exits 143 (130)."""
    sigterm = next(c for c in trainer.callback_handler.callbacks if isinstance(c, SigtermCheckpoint))
    try:
        result = trainer.train(resume_from_checkpoint=resume_path(cfg))
    finally:
        sigterm.restore()
    if sigterm.received:
        name = signal.Signals(sigterm.received).name
        print(f"{name}: checkpoint saved at step {trainer.state.global_step} in {cfg.train.output_dir}; "
              "resume with train.resume_from_checkpoint=auto", file=sys.stderr)
        raise SystemExit(sigterm.exit_code)
    return result


def final_eval(trainer) -> dict:
    """The trained model's eval metrics: those of the eval training just ran on its last step when the model
    still holds the weights it scored (the dict evaluate() returned then: metrics.jsonl keeps one final eval
    row), else trainer.evaluate()."""
    last = next(c for c in trainer.callback_handler.callbacks if isinstance(c, LastEval))
    if last.metrics is not None and last.step == trainer.state.global_step and _kept_last_weights(trainer):
        return last.metrics
    return trainer.evaluate()


def _kept_last_weights(trainer) -> bool:
    """No best checkpoint was loaded at the end of training (load_best_model_at_end), or it is the last step's."""
    best = trainer.state.best_model_checkpoint
    return (not trainer.args.load_best_model_at_end or best is None
            or Path(best).name == f"checkpoint-{trainer.state.global_step}")
