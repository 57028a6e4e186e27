"""The names users bring from transformers, TRL, PEFT, sentence-transformers and LLaMA-Factory.

Canonical field names (e.g. `learning_rate`, `cutoff_len`, `rank`) are accepted flat without being
listed here; a name that is a field of two sections (`seed`, `dtype`) is pinned here. Every alias maps
to exactly one canonical field, optionally through a converter; a converter raising ValueError turns
into a one-line config error, and one returning SKIP drops the key (it restates a default).

IGNORED keys are accepted with a note: they are no-ops for mgtrainer (caching, worker counts,
plotting that mgtrainer always does). UNSUPPORTED keys are errors that say so: silently dropping them
would train something other than what the user asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from mgtrainer.tasks import TASKS

SKIP = object()
LATER_STAGES = ("ppo",)  # LLaMA-Factory stages with no task yet (dpo and kto are tasks; orpo/simpo are pref_loss)


@dataclass(frozen=True)
class Alias:
    target: str  # canonical dotted path, e.g. "train.learning_rate"
    origin: str  # where the name comes from (docs only)
    convert: Callable[[Any], Any] | None = None


def convert_stage(value):
    """LLaMA-Factory's `stage` names the task (its pt, sft and rm stages are tasks of the same name)."""
    if value in LATER_STAGES:
        raise ValueError(f"stage {value!r} is not supported yet; expected one of {', '.join(TASKS)}")
    return value


def _first_loss(value):
    """TRL's loss_type may be a list (combined losses); one loss is supported (+ pref_ftx for the SFT term)."""
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"one loss is supported, got {value}; expected e.g. loss_type: sigmoid "
                             "(an added SFT term is pref_ftx)")
        return value[0]
    return value


def _negate(value):
    return SKIP if value is None else not value


# LLaMA-Factory's flash_attn -> transformers' attn_implementation (backends/lf_config.py reads it backwards)
LF_ATTN = {"auto": SKIP, "disabled": "eager", "eager": "eager", "sdpa": "sdpa", "fa2": "flash_attention_2",
           "fa3": "flash_attention_3"}


def _lf_attn(value):
    if value not in LF_ATTN:
        raise ValueError(f"expected one of {', '.join(LF_ATTN)}")
    return LF_ATTN[value]


def _use_peft(value):
    return "lora" if value else "full"


def _only(expected, why: str):
    def check(value):
        if value is None or value == expected:
            return SKIP
        raise ValueError(f"only {expected!r} is supported ({why})")
    return check


def _skip_none(value):
    return SKIP if value is None else value


def _freeze_modules(value):
    if value in (None, "all"):
        return SKIP
    names = value.split(",") if isinstance(value, str) else value
    return [f"*.{name.strip()}.*" for name in names if name.strip()]


TF, TRL, LF, PEFT, ST, HF = ("transformers", "TRL", "LLaMA-Factory", "PEFT",
                             "sentence-transformers", "HF example scripts")
MINICPM, MDL = "MiniCPM finetune.py", "MDL-Toolkit train"

ALIASES: dict[str, Alias] = {
    # pinned: canonical names that two sections share
    "seed": Alias("train.seed", TF),
    "dtype": Alias("model.dtype", TF),
    # model
    "model_name_or_path": Alias("model.name_or_path", LF + ", " + TF),
    "model_name": Alias("model.name_or_path", ST),
    "torch_dtype": Alias("model.dtype", TF),
    "flash_attn": Alias("model.attn_implementation", LF, _lf_attn),
    "attn": Alias("model.attn_implementation", LF + " (before 0.9)", _lf_attn),
    # task
    "stage": Alias("task.name", LF, convert_stage),
    "completion_only_loss": Alias("task.train_on_prompt", TRL, _negate),
    "assistant_only_loss": Alias("task.train_on_prompt", TRL, _negate),
    "pref_beta": Alias("task.beta", LF),
    "pref_loss": Alias("task.loss", LF),
    "loss_type": Alias("task.loss", TRL, _first_loss),
    "pref_ftx": Alias("task.ftx", LF),
    "kto_chosen_weight": Alias("task.desirable_weight", LF),
    "kto_rejected_weight": Alias("task.undesirable_weight", LF),
    # data
    "dataset": Alias("data.train", LF),
    "dataset_name": Alias("data.train", HF),
    "train_file": Alias("data.train", HF),
    "eval_dataset": Alias("data.eval", LF),
    "validation_file": Alias("data.eval", HF),
    "interleave_probs": Alias("data.mix", LF),
    "max_train_samples": Alias("data.max_samples", HF),
    "model_max_length": Alias("data.cutoff_len", MINICPM + ", " + TF + " tokenizers", _skip_none),
    "train_dataset": Alias("data.train", MDL),
    "max_length": Alias("data.cutoff_len", TRL, _skip_none),
    "max_seq_length": Alias("data.cutoff_len", TRL + ", " + ST, _skip_none),
    "block_size": Alias("data.cutoff_len", HF, _skip_none),
    "data_seed": Alias("data.seed", TF),
    "dataset_text_field": Alias("data.format", TRL, _only("text", "plain-text rows are read from 'text'")),
    # train
    "lr": Alias("train.learning_rate", "common scripts, " + MDL),
    "batch_size": Alias("train.per_device_train_batch_size", MDL),
    "output": Alias("train.output_dir", MDL),
    "evaluation_strategy": Alias("train.eval_strategy", TF),
    "early_stopping_steps": Alias("train.early_stopping_patience", LF),
    "disable_gradient_checkpointing": Alias("train.gradient_checkpointing", LF, _negate),
    # lora
    "lora_rank": Alias("lora.rank", LF),
    "lora_r": Alias("lora.rank", PEFT),
    "r": Alias("lora.rank", PEFT),
    "lora_alpha": Alias("lora.alpha", LF + ", " + PEFT),
    "lora_dropout": Alias("lora.dropout", LF + ", " + PEFT),
    "lora_target": Alias("lora.target", LF),
    "target_modules": Alias("lora.target", PEFT),
    "lora_target_modules": Alias("lora.target", PEFT),
    "use_peft": Alias("lora.finetuning_type", TRL, _use_peft),
    "use_lora": Alias("lora.finetuning_type", MINICPM, _use_peft),
    "freeze_trainable_layers": Alias("lora.freeze_layers", LF),
    "freeze_trainable_modules": Alias("lora.freeze_trainable", LF, _freeze_modules),
    # serve
    "vllm_maxlen": Alias("serve.max_model_len", LF),
    "infer_dtype": Alias("serve.dtype", LF),
    "tokenized_path": Alias("data.packed", LF),
}

# Flat names of task fields; which task they belong to is looked up in the task registry.
TASK_ALIASES: dict[str, str] = {"train_on_prompt": "train_on_prompt", "packing": "packing"}

IGNORED: dict[str, str] = {
    "do_train": "the verb says what to do",
    "do_eval": "evaluation runs whenever there is eval data",
    "do_predict": "use `mgtrainer predict`",
    "predict_with_generate": "generative eval is eval.generation_samples",
    "overwrite_cache": "mgtrainer does not cache tokenized data",
    "preprocessing_num_workers": "tokenization runs in-process",
    "dataloader_num_workers": "data loads in-process",
    "dataset_num_proc": "tokenization runs in-process",
    "plot_loss": "plots are always written to OUTPUT_DIR/plots",
    "save_only_model": "checkpoints keep optimizer state for resuming",
    "enable_liger_kernel": "Liger's kernels are Triton (GPU only); where a GPU is, TrainingArguments' "
                           "use_liger_kernel: true passes through",
    "use_fast_tokenizer": "the fast tokenizer is always used",
    "remove_unused_columns": "the data layer keeps only what the task needs",
    "include_num_input_tokens_seen": "not tracked",
    "upcast_layernorm": "not needed for the supported dtypes",
    "logging_dir": "logs go to OUTPUT_DIR/metrics.jsonl",
    "disable_tqdm": "progress bars are kept",
    "run_name": "the run is named by output_dir",
    "mix_strategy": "datasets are concatenated, or sampled by data.mix weights",
    "infer_backend": "`mgtrainer serve` uses vLLM, `predict --engine` picks",
    "push_to_hub": "false: nothing is pushed",
    "qlora": "false: LoRA on unquantized weights",
}

UNSUPPORTED: dict[str, str] = {
    "quantization_bit": "quantized (QLoRA) training is not supported yet",
    "quantization_method": "quantized (QLoRA) training is not supported yet",
    "qlora": "quantized (QLoRA) training is not supported yet",
    "use_unsloth": "unsloth is not supported",
    "use_dora": "DoRA is not supported yet",
    "pissa_init": "PiSSA is not supported yet",
    "export_dir": "the exported model is OUTPUT_DIR/final",
    "hub_model_id": "pushing to the hub is not supported",
    "push_to_hub": "pushing to the hub is not supported",
    "rope_scaling": "RoPE scaling is not supported yet",
}


def ignored_reason(key: str, value) -> str | None:
    """Why `key` may be dropped, or None when it may not (push_to_hub and qlora only when false)."""
    if key in ("push_to_hub", "qlora"):
        return IGNORED[key] if not value else None
    return IGNORED.get(key)
