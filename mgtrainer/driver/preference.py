"""The training flow of the preference tasks (dpo, orpo, kto) on TRL's DPOTrainer / KTOTrainer.

mgtrainer tokenises (driver/pref_encode.py: chat template, max_prompt_length, cutoff_len, dropped rows
with reasons) and TRL trains; the trainers here only skip TRL's own tokenisation, add the
reference-free losses (ORPO, SimPO: driver/pref_losses.py), run each pair's shared prompt once
(driver/pair_forward.py) and choose the reference model:

  LoRA              implicit: the base model with the adapter disabled (no second copy)
  full / freeze     a frozen copy of the starting model (TRL loads it from the same folder)
  precompute_ref_log_probs   reference log-probs computed once before training, then no reference
  orpo / simpo      none (reference-free)

`spec` is a PrefSpec the task builds from its config; a task module is its spec function plus
`PreferenceTask(spec, tokenizer)`, whose methods are the task's run / evaluate / token_drops.
driver/trainer.build_trainer's args_cls/trainer_kwargs let any TRL trainer (e.g. grpo's) get mgtrainer's
callbacks the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Callable

from pydantic import Field

from mgtrainer.driver.metrics import scalar_metrics
from mgtrainer.driver.run import conclude, start

# Config fields the preference tasks share, declared once (`max_prompt_length: MaxPromptLength = None`)
MaxPromptLength = Annotated[int | None, Field(gt=0, description="Prompts longer than this many tokens keep their last "
                                              "tokens (default: only data.cutoff_len limits). TRL name.")]
PrecomputeRef = Annotated[bool, Field(description="Compute the reference log-probs of every row once before "
                                      "training, so no reference model is kept in memory.")]
Ftx = Annotated[float, Field(ge=0, description="Weight of an added SFT loss (NLL of the chosen answer), as LLaMA-Factory's "
                              "pref_ftx: orpo keeps its own SFT term (weight 1) and adds this one.")]
SimpoGamma = Annotated[float | None, Field(description="SimPO's target reward margin gamma (default 0.5); only with "
                                           "loss: simpo. LLaMA-Factory simpo_gamma.")]


@dataclass
class PrefSpec:
    """What a preference task asks of the flow (the task module spells its loss names, not the driver)."""

    kind: str  # "pairs" (DPOTrainer) or "unpaired" (KTOTrainer)
    loss: str | list[str]  # TRL's loss_type (DPO: a list, e.g. [sigmoid] or [sigmoid, sft] with loss_weights)
    beta: float
    max_prompt_length: int | None = None
    precompute_ref_log_probs: bool = False
    free_loss: Callable | None = None  # reference-free loss(chosen, rejected) -> (losses, r_chosen, r_rejected)
    nll_weight: float = 0.0  # with free_loss: weight of the SFT term (mean NLL of the chosen answer)
    args: dict = field(default_factory=dict)  # extra DPOConfig / KTOConfig fields

    @property
    def reference_free(self) -> bool:
        return self.free_loss is not None


@dataclass(frozen=True)
class PreferenceTask:
    """A preference task's `run`, `evaluate` and `token_drops` (mgtrainer/tasks/contract.py), built from the one
    thing in which dpo, kto and orpo differ: how their config becomes a PrefSpec. The trained model is a causal
    LM with the chat tokenizer `tokenizer(cfg, model_cfg) -> (tok, template name)` (sft's)."""

    spec: Callable  # cfg -> PrefSpec
    tokenizer: Callable
    HEAD: str = "causal_lm"

    def run(self, cfg, data) -> dict:
        """Train on preference records; eval the loss's rewards (accuracy, margins; kto: KL) on held-out rows;
        final/ + manifest."""
        return fit_preference(cfg, self, data, self.spec(cfg))

    def evaluate(self, cfg, data, model_dir) -> dict:
        """Rewards, margins and loss of model_dir on the eval rows (reference: model.name_or_path)."""
        return evaluate_preference(cfg, self, data, model_dir, self.spec(cfg))

    def token_drops(self, cfg, tok, records) -> list[tuple[str, str]]:
        """Rows training drops once tokenised, with the reason (`mgtrainer data check --task T --model M`)."""
        return encode(tok, records, cfg, self.spec(cfg)).dropped


def check_gamma(simpo_gamma: float | None, loss: str) -> None:
    """simpo_gamma belongs to loss simpo: beside another loss it is an error, not a setting silently unused."""
    if simpo_gamma is not None and loss != "simpo":
        raise ValueError(f"simpo_gamma is used only by loss simpo, but loss is {loss!r}; expected "
                         "loss: simpo (pref_loss: simpo) or no simpo_gamma")


def reference_free_spec(odds_ratio: bool, beta: float, gamma: float | None, ftx: float,
                        max_prompt_length: int | None) -> PrefSpec:
    """ORPO (odds_ratio; its own SFT term, weight 1, plus ftx) or SimPO (gamma default 0.5; an SFT term only with
    ftx), on DPOTrainer's pairs without a reference model. ftx adds, as LLaMA-Factory's pref_ftx does."""
    from functools import partial

    from mgtrainer.driver.pref_losses import orpo_loss, simpo_loss

    if odds_ratio:
        fn, nll = partial(orpo_loss, beta=beta), 1.0 + ftx
    else:
        fn, nll = partial(simpo_loss, beta=beta, gamma=0.5 if gamma is None else gamma), ftx
    return PrefSpec("pairs", ["sigmoid"], beta, max_prompt_length, free_loss=fn, nll_weight=nll)


def pref_trainer_classes():
    """(DPO subclass, KTO subclass), defined lazily (TRL is heavy)."""
    from trl import DPOTrainer, KTOTrainer

    from mgtrainer.driver.trainer import BudgetTrainer

    class PrefBatches(BudgetTrainer):
        """The driver's token-budget / length-grouped batches, over the padded size TRL's collators give a row."""

        def row_lengths(self) -> list[int]:
            return [padded_tokens(row) for row in self.train_dataset]

    class PrefDPOTrainer(PrefBatches, DPOTrainer):
        spec: PrefSpec

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            share_pair_prefixes(self)

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            if "prompt_ids" in dataset.column_names:  # tokenised by mgtrainer
                return dataset
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

        def _compute_loss(self, model, inputs, return_outputs):
            if self.spec.reference_free:
                return reference_free_loss(self, model, inputs)
            return super()._compute_loss(model, inputs, return_outputs)

        def log(self, logs, start_time=None):
            """+ kl/chosen: mean log(pi/pi_ref) of the chosen answers (rewards/chosen / beta), the policy's
            drift from the reference measured on the data (not on its own samples)."""
            mode = "train" if self.model.training else "eval"
            chosen = self._metrics[mode].get("rewards/chosen")
            if chosen and not self.spec.reference_free:
                self._metrics[mode]["kl/chosen"] = [sum(chosen) / len(chosen) / self.spec.beta]
            super().log(logs, start_time)

    class PrefKTOTrainer(PrefBatches, KTOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            if "prompt_ids" not in dataset.column_names:
                return super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            return kl_pairs(dataset, args.per_device_train_batch_size) if self.calculate_KL else dataset

    return PrefDPOTrainer, PrefKTOTrainer


def kl_pairs(dataset, batch_size: int):
    """TRL's KL pairs for rows mgtrainer tokenised: the completions shifted by one within each batch."""
    def rotate(batch):
        batch["KL_completion_ids"] = [batch["completion_ids"][-1]] + batch["completion_ids"][:-1]
        return batch

    return dataset.map(rotate, batched=True, batch_size=batch_size)


def share_pair_prefixes(trainer) -> None:
    """Policy and reference (after TRL gave them its fused head): each pair's shared prompt through the
    backbone once, log-probs only at scored positions (driver/pair_forward.py; exact, so always on where it
    applies: not under FSDP or DeepSpeed, whose hooks expect one forward per module a step)."""
    from mgtrainer.driver import pair_forward

    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
        return
    for model in filter(None, (trainer.model, trainer.ref_model)):
        model = trainer.accelerator.unwrap_model(model)
        pair_forward.install(model.get_base_model() if hasattr(model, "get_base_model") else model)


SEQUENCES = (("chosen_ids", "rejected_ids"), ("completion_ids", "KL_completion_ids"))


def padded_tokens(row: dict) -> int:
    """What one row adds to a batch's padded size: TRL's collators stack prompt + chosen and prompt + rejected
    (dpo, orpo; one [2B, longest] tensor) or prompt + completion and, for KTO's KL term, prompt + a
    mismatched completion (two [B, longest] tensors): a row counts its number of sequences x the longest."""
    names = [n for group in SEQUENCES for n in group if n in row]
    return len(names) * (len(row["prompt_ids"]) + max(len(row[n]) for n in names))


def reference_free_loss(trainer, model, inputs):
    """spec.free_loss (ORPO, SimPO) on a [chosen; rejected] batch from TRL's preference collator, with DPO's
    metrics (rewards/chosen, rejected, accuracies, margins, num_tokens) and nll/chosen."""
    spec, mode = trainer.spec, "train" if model.training else "eval"
    mask = inputs["completion_mask"][:, 1:].float()
    labels = inputs["input_ids"].masked_fill(inputs["completion_mask"] == 0, -100)
    out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], labels=labels,
                use_cache=False, fused_lm_head=True)
    token_logps = out.log_probs[:, -mask.size(1):] * mask
    mean = token_logps.sum(1) / mask.sum(1).clamp(min=1)
    chosen, rejected = mean.chunk(2)
    losses, r_chosen, r_rejected = spec.free_loss(chosen, rejected)
    loss = losses.mean() + spec.nll_weight * (-chosen).mean()
    gather = trainer.accelerator.gather
    metrics = trainer._metrics[mode]
    metrics["rewards/chosen"].append(gather(r_chosen).mean().item())
    metrics["rewards/rejected"].append(gather(r_rejected).mean().item())
    metrics["rewards/accuracies"].append(gather((r_chosen > r_rejected).float()).mean().item())
    metrics["rewards/margins"].append(gather(r_chosen - r_rejected).mean().item())
    metrics["nll/chosen"].append(gather(-chosen.detach()).mean().item())
    if mode == "train":  # the tokens fed, counted as TRL's own loss path counts them (num_tokens in the log)
        trainer._total_train_tokens += gather(inputs["attention_mask"].sum()).sum().item()
    metrics["num_tokens"] = [trainer._total_train_tokens]
    return loss


def trl_args(cfg, spec: PrefSpec) -> tuple[type, dict]:
    """(DPOConfig or KTOConfig, its preference fields) for the driver's training_args."""
    from trl import DPOConfig, KTOConfig

    common = dict(beta=spec.beta, max_length=cfg.data.cutoff_len, disable_dropout=True,
                  precompute_ref_log_probs=spec.precompute_ref_log_probs and not spec.reference_free)
    cls = KTOConfig if spec.kind == "unpaired" else DPOConfig
    return cls, common | dict(loss_type=spec.loss) | spec.args | cfg.train.trl_args  # the user's TRL fields last


def encode(tok, records, cfg, spec: PrefSpec):
    from mgtrainer.driver.pref_encode import encode_pairs, encode_unpaired

    if spec.kind == "pairs":
        return encode_pairs(tok, records, cfg.data.cutoff_len, spec.max_prompt_length)
    enc = encode_unpaired(tok, records, cfg.data.cutoff_len, spec.max_prompt_length)
    import random

    random.Random(cfg.data.seed).shuffle(enc.rows)  # KTO trains in this (seeded, resumable) order
    return enc


def _dataset(rows):
    from datasets import Dataset

    return Dataset.from_list(rows) if rows else None


def build(cfg, spec: PrefSpec, model, tok, train_rows, eval_rows):
    """The TRL trainer with mgtrainer's callbacks (metrics.jsonl, SIGTERM checkpoint, report)."""
    from mgtrainer.driver import trainer as dt

    dpo_cls, kto_cls = pref_trainer_classes()
    cls = kto_cls if spec.kind == "unpaired" else dpo_cls
    args_cls, extra = trl_args(cfg, spec)
    cls.spec = spec
    trainer = dt.build_trainer(cfg, model, tok, _dataset(train_rows), _dataset(eval_rows), None,
                               trainer_cls=cls, args_cls=args_cls, **extra)  # ref_model None: see the docstring
    _settle_reference(trainer, spec)
    return trainer


def _settle_reference(trainer, spec: PrefSpec) -> None:
    """LoRA: drop TRL's copy of the fresh adapter (adapter disabled is the same reference, and final/
    then holds one adapter); reference-free losses: drop the reference TRL loaded."""
    unwrapped = trainer.accelerator.unwrap_model(trainer.model)
    if "ref" in getattr(unwrapped, "peft_config", {}):
        unwrapped.delete_adapter("ref")
        unwrapped.set_adapter("default")
    if spec.reference_free:
        trainer.ref_model = None


def fit_preference(cfg, task: PreferenceTask, data, spec: PrefSpec) -> dict:
    """Train on preference records, eval reward accuracy/margins on held-out rows, final/ + manifest."""
    from mgtrainer.driver import model as dm, trainer as dt
    from mgtrainer.driver.pref_encode import say_dropped, summary

    start(cfg)
    tok, template = task.tokenizer(cfg, cfg.model)
    model = dm.apply_finetuning(dm.load_model(cfg.model, task.HEAD, tok), cfg.lora, task.HEAD)
    train_set, eval_set = encode(tok, data.train, cfg, spec), encode(tok, data.eval, cfg, spec)
    print(summary(train_set, "train") + (f"; {summary(eval_set, 'eval')}" if data.eval else ""))
    say_dropped(train_set, "train")
    say_dropped(eval_set, "eval")
    if not train_set.rows:
        from mgtrainer.errors import MgtError

        raise MgtError(f"no trainable preference rows in {cfg.data.train} (data.train); every row was dropped "
                       "(see above); expected prompts shorter than data.cutoff_len")
    trainer = build(cfg, spec, model, tok, train_set.rows, eval_set.rows)
    dt.train(trainer, cfg)
    metrics = scalar_metrics(trainer.evaluate()) if eval_set.rows else {}
    return conclude(trainer, tok, cfg, task.HEAD, metrics, template=template)


def evaluate_preference(cfg, task: PreferenceTask, data, model_dir, spec: PrefSpec) -> dict:
    """Reward accuracy, margins and loss of model_dir on the eval split (the train rows without one).
    The reference is the config's base model (model.name_or_path) for losses that need one."""
    from mgtrainer.driver import model as dm

    src = cfg.model.model_copy(update={"name_or_path": str(model_dir)})
    tok, _ = task.tokenizer(cfg, src)
    rows = encode(tok, data.eval or data.train, cfg, spec).rows
    model = dm.load_model(src, task.HEAD, tok)
    ref_free = spec.reference_free or spec.precompute_ref_log_probs
    ref = None if ref_free else dm.load_model(cfg.model, task.HEAD, tok)
    dpo_cls, kto_cls = pref_trainer_classes()
    cls = kto_cls if spec.kind == "unpaired" else dpo_cls
    cls.spec = spec
    args_cls, extra = trl_args(cfg, spec)
    from mgtrainer.driver import trainer as dt

    args = dt.training_args(cfg, "loss", args_cls, **extra)
    rows = _dataset(rows)  # TRL's trainers insist on a train_dataset, even to evaluate
    trainer = cls(model=model, ref_model=ref, args=args, train_dataset=rows, eval_dataset=rows, processing_class=tok)
    return scalar_metrics(trainer.evaluate())
