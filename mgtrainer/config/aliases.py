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


def _bits(bits: int):
    """A switch for quantized base weights (MiniCPM's qlora, TRL's load_in_4bit): true = that many bits."""
    def convert(value):
        if not isinstance(value, bool) and value is not None:
            raise ValueError("expected true or false")
        return bits if value else SKIP
    return convert


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
    "qlora": Alias("model.quantization_bit", MINICPM, _bits(4)),
    "load_in_4bit": Alias("model.quantization_bit", TRL, _bits(4)),
    "load_in_8bit": Alias("model.quantization_bit", TRL, _bits(8)),
    "bnb_4bit_quant_type": Alias("model.quantization_type", TRL),
    "use_bnb_nested_quant": Alias("model.double_quantization", TRL),
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
    "base_dir": Alias("model.name_or_path", MDL),
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
    "enable_liger_kernel": Alias("train.hf_args.use_liger_kernel", LF),  # refused where Liger cannot run
    "neat_packing": Alias("train.padding_free", LF),  # packed rows that do not attend across each other
    "dataset_streaming": Alias("data.streaming", TRL),
    "dpo_label_smoothing": Alias("train.trl_args.label_smoothing", LF),  # TRL's DPOConfig field (task dpo)
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
    # TRL's scripts and LLaMA-Factory: settings of things mgtrainer does otherwise, that change nothing trained
    "lora_task_type": "the task picks PEFT's task type (CAUSAL_LM, SEQ_CLS, FEATURE_EXTRACTION)",
    "bnb_4bit_quant_storage": "4-bit weights are stored as uint8",
    "ignore_bias_buffers": "DDP buffers are handled by the launcher's defaults",
    "dataset_kwargs": "mgtrainer prepares the rows itself (the data layer)",
    "eval_packing": "eval rows are not packed",
    "cache_dir": "models load from local folders and the package index, with no hub cache",
    "hf_hub_token": "no hub is used", "ms_hub_token": "no hub is used", "om_hub_token": "no hub is used",
    "resize_vocab": "the embeddings grow by themselves when model.template adds tokens",
    "low_cpu_mem_usage": "transformers 5 always loads this way",
    "use_reentrant_gc": "gradient checkpointing uses transformers' default",
    "upcast_lmhead_output": "logits are float32 on CPU already; on a GPU the trainer's autocast decides",
    "offload_folder": "no weights are offloaded to disk", "use_kv_cache": "generation always uses the KV cache",
    "print_param_status": "the run log prints the trainable parameter count",
    "quantization_device_map": "one device per process (torchrun ranks)",
    "device_map": "one device per process (torchrun ranks)",
    "compute_dtype": "LLaMA-Factory's internal field: model.dtype decides",
    "preprocessing_batch_size": "tokenization runs in-process, row by row",
    "eval_num_beams": "generative eval is greedy (eval.*)",
    "ignore_pad_token_for_loss": "padding never counts in the loss",
    "data_shared_file_system": "each node prepares its own rows",
    "include_effective_tokens_per_second": "the run record has tokens and seconds per step",
    "enable_torch_profiler": "the torch profiler is not wired",
    "do_sample": "generative eval is greedy (eval.*)", "num_beams": "generative eval is greedy (eval.*)",
    "length_penalty": "generative eval is greedy (eval.*)",
    "skip_special_tokens": "generated text is decoded without special tokens",
    "adapter_folder": "lora.adapter_name_or_path takes the adapter's folder itself",
}

UNSUPPORTED: dict[str, str] = {
    "use_unsloth": "unsloth is not supported",
    "use_dora": "DoRA is not supported yet",
    "pissa_init": "PiSSA is not supported yet",
    "export_dir": "the exported model is OUTPUT_DIR/final",
    "hub_model_id": "pushing to the hub is not supported",
    "push_to_hub": "pushing to the hub is not supported",
    "rope_scaling": "RoPE scaling is not supported yet",
    # TRL's scripts
    "model_revision": "models load from local folders and the package index; there is no hub revision",
    "dataset_config": "data files are local (data.train / data.eval); a hub dataset's config is not read",
    "dataset_train_split": "data files are local (data.train); a hub dataset's split is not read",
    "dataset_test_split": "data files are local (data.eval or data.val_size); a hub dataset's split is not read",
    "lora_target_parameters": "LoRA on parameters (MoE experts) is not supported yet; lora.target names modules",
    "lora_modules_to_save": "not supported yet; lora.freeze_exclude trains named base weights (lora.merge: true)",
    "additional_target": "not supported yet; lora.freeze_exclude trains named base weights (lora.merge: true)",
    "freeze_extra_modules": "not supported yet; lora.freeze_exclude trains named base weights",
    "chat_template_path": "a jinja file is not read yet; model.template names a LLaMA-Factory template",
    "eos_token": "the eos token is the tokenizer's, or model.template's stop word",
    "pad_token": "the pad token is the tokenizer's (eos where it has none)",
    "packing_strategy": "sft packs padding-free (train.padding_free: rows packed, never attending across)",
    "center_rewards_coefficient": "not supported yet for task rm",
    # LLaMA-Factory
    "split_special_tokens": "special tokens are never split",
    "add_tokens": "adding tokens is not supported yet", "add_special_tokens": "adding tokens is not supported yet",
    "new_special_tokens_config": "adding tokens is not supported yet",
    "init_special_tokens": "adding tokens is not supported yet",
    "shift_attn": "shift short attention (LongLoRA) is not supported",
    "mixture_of_depths": "mixture of depths is not supported", "use_unsloth_gc": "unsloth is not supported",
    "moe_aux_loss_coef": "the MoE router loss weight is not wired yet (train.hf_args router settings pass through)",
    "train_from_scratch": "training from random weights is not supported: the base model's weights load",
    "use_v1_kernels": "LLaMA-Factory's v1 kernels are not installed",
    "block_diag_attn": "train.padding_free packs rows without cross attention (varlen, or per-row positions)",
    "eval_on_each_dataset": "not supported yet: eval metrics are over data.eval as one set",
    "preserve_thinking": "not supported yet: enable_thinking false removes thoughts from every reply",
    "module_dropout": "LoKr/LoHa module dropout: not supported", "create_new_adapter": "not supported yet",
    "pref_bco_weight": "the BCO term of LLaMA-Factory's DPO is not supported",
    "use_llama_pro": "LLaMA Pro block expansion is not supported", "use_adam_mini": "Adam-mini is not installed",
    "use_mca": "Megatron core adapters are not supported",
    "use_hyper_parallel": "LLaMA-Factory's hyper-parallel launcher is not supported",
    "hyper_parallel_args": "LLaMA-Factory's hyper-parallel launcher is not supported",
    "use_muon": "the Muon optimizer is not installed; train.optim names one of transformers' optimizers",
    "use_dft_loss": "DFT loss is not supported yet", "use_asft_loss": "ASFT loss is not supported yet",
    "asft_alpha": "ASFT loss is not supported yet", "use_eaft_loss": "EAFT loss is not supported yet",
    "eaft_alpha": "EAFT loss is not supported yet",
    "pure_bf16": "model.dtype: bfloat16 loads bf16 weights (train.bf16 is mixed precision)",
    "freeze_vision_tower": "msft freezes the tower by default; lora.freeze_include / freeze_exclude change it",
    "freeze_multi_modal_projector": "lora.freeze_include / freeze_exclude globs name the projector",
    "freeze_language_model": "lora.freeze_include globs name the language model",
    "compute_accuracy": "sft's eval reports loss and generation metrics (eval.generation_samples)",
    "disable_shuffling": "not supported yet: train rows are shuffled (seeded)",
    "master_addr": "the launcher's --rdzv-endpoint HOST:PORT sets it",
    "master_port": "the launcher's --rdzv-endpoint HOST:PORT sets it",
    "use_audio_in_video": "video input is not supported (msft: image and audio)",
    "crop_to_patches": "msft uses its processor's defaults",
}

# Families of LLaMA-Factory options, by prefix: (prefix, why). Refused unless IGNORED_FAMILIES.
FAMILIES: dict[str, str] = {
    "export_": "export is `mgtrainer export RUN --to merged|adapter|gguf` (references/serving.md)",
    "kt_": "KTransformers is not supported", "use_kt": "KTransformers is not supported",
    "galore_": "GaLore is not installed; train.optim", "use_galore": "GaLore is not installed; train.optim",
    "apollo_": "APOLLO is not installed; train.optim", "use_apollo": "APOLLO is not installed; train.optim",
    "badam_": "BAdam is not installed; train.optim", "use_badam": "BAdam is not installed; train.optim",
    "swanlab_": "SwanLab is not installed; report_to: tensorboard", "use_swanlab": "SwanLab is not installed",
    "ppo_": "PPO is not supported yet (stage ppo); grpo trains with rewards",
    "ref_model": "the reference is the base model (adapters off) or a copy of it; another one is not supported",
    "reward_model": "grpo's reward models are task.reward_funcs entries (a run folder or a served URL)",
    "ray_": "Ray is not supported; torchrun (--nproc-per-node, --nnodes)",
    "fp8": "fp8 training is not wired (it needs a Hopper GPU)",
    "oft_": "OFT adapters are not supported", "pissa_": "PiSSA is not supported yet",
    "loraplus_": "LoRA+ is not supported yet",
    "image_": "LLaMA-Factory's multimodal plugin settings: msft uses its processor's own",
    "video_": "video input is not supported (msft: image and audio)",
    "audio_sampling_rate": "msft resamples to its processor's rate",
    "vllm_": "inference engine settings of LLaMA-Factory's chat: `mgtrainer serve` takes its own",
    "sglang_": "SGLang is not supported; `mgtrainer serve` runs vLLM",
    "profiler_": "the torch profiler is not wired", "profile_modules": "the torch profiler is not wired",
}
IGNORED_FAMILIES = ("vllm_", "sglang_", "profiler_", "profile_modules")


def family_reason(key: str) -> str | None:
    """Why a key of a refused or ignored option family is not taken (FAMILIES), or None."""
    return next((why for prefix, why in FAMILIES.items() if key.startswith(prefix)), None)


def ignored_reason(key: str, value) -> str | None:
    """Why `key` may be dropped, or None when it may not (push_to_hub only when false)."""
    if key == "push_to_hub":
        return IGNORED[key] if not value else None
    return IGNORED.get(key)
