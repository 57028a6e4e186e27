"""The sections of RunConfig: model, data, train, lora, eval, serve.

Every field carries its help text: `mgtrainer config schema` and references/config.md are generated
from these descriptions, so this file is where a user learns the knobs. Defaults follow what a
transformers / LLaMA-Factory user expects. Cross-section defaults (output_dir, eval_strategy,
data.seed) are filled in by RunConfig.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_REGEX_CHARS = re.compile(r"[.*^$|()\[\]\\+?{}]")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=(), allow_inf_nan=False)  # no NaN/inf


def expand(value):
    """~ and $VAR / ${VAR} in a path, expanded once here so that every backend gets the same path; an unset
    variable is an error, never a folder named '$VAR'."""
    if not isinstance(value, str) or ("~" not in value and "$" not in value):
        return value
    out = os.path.expandvars(os.path.expanduser(value))
    unset = re.search(r"\$\{?(\w+)", out)
    if unset:
        raise ValueError(f"environment variable {unset.group(1)} is not set; expected it set, or the path spelled out")
    return out


def comma_list(value):
    """'a, b' -> ['a', 'b']; lists pass through; None -> []."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ModelConfig(Section):
    name_or_path: str = Field(
        description="Base model: a local folder or a hub id (AutoModel.from_pretrained argument)."
    )
    trust_remote_code: bool = Field(False, description="Allow the model's own modelling code to run.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype when loading; auto = the checkpoint's own dtype."
    )
    attn_implementation: str | None = Field(
        None, description="transformers' attention kernel: None = transformers' choice (sdpa where the model has "
        "it), or eager, sdpa, flash_attention_2, flash_attention_3, ... (LLaMA-Factory's flash_attn: disabled, "
        "sdpa, fa2, fa3). With a flash kernel train.padding_free runs as varlen attention.")
    template: str | None = Field(
        None,
        description="Chat template: None = the tokenizer's own (chatml or plain when it has none); a "
        "LLaMA-Factory template name (qwen, llama3, mistral, gemma, glm4, deepseek3, phi4, ...; "
        "references/templates.md) = that template, encoded exactly as LLaMA-Factory encodes it (ids, loss mask, "
        "stop words, eos), or mgtrainer's plain. The manifest records which, and serving uses the same.",
    )

    default_system: str | None = Field(
        None, description="The system prompt of rows that have none, in place of the template's default "
        "(LLaMA-Factory's default_system). With the tokenizer's own template: a system message put first.")
    tool_format: str | None = Field(
        None, description="A LLaMA-Factory template's tool format in place of its own (default, qwen, ling, glm4, "
        "llama3, mistral; LLaMA-Factory's tool_format). Needs model.template.")
    mask_history: bool = Field(
        False, description="Train the last assistant turn only; earlier turns are context, and truncation keeps "
        "the last turns first (LLaMA-Factory's mask_history). Needs model.template.")
    quantization_bit: Literal[4, 8] | None = Field(
        None, description="QLoRA: load the base weights in 4 or 8 bits with bitsandbytes (its CPU backend runs too) "
        "and train LoRA adapters on them (LLaMA-Factory's quantization_bit; TRL's load_in_4bit / load_in_8bit; "
        "MiniCPM's qlora: true = 4). Needs lora.finetuning_type: lora. final/ merges the adapter into the base "
        "reloaded in full precision, as LLaMA-Factory exports it.")
    quantization_method: Literal["bnb", "bitsandbytes"] = Field(
        "bnb", description="The quantizer of quantization_bit: bitsandbytes (LLaMA-Factory's bnb); hqq and eetq "
        "are not installed.")
    quantization_type: Literal["nf4", "fp4"] = Field(
        "nf4", description="4-bit data type (LLaMA-Factory's quantization_type, TRL's bnb_4bit_quant_type).")
    double_quantization: bool = Field(
        True, description="4-bit: quantize the quantization constants too (LLaMA-Factory's double_quantization, "
        "TRL's use_bnb_nested_quant).")
    enable_thinking: bool = Field(
        True, description="Reasoning templates (qwen3, deepseekr1, ...): true = a reply without a thought gets an "
        "empty one that is trained; false = thoughts are removed from replies and the empty thought goes in the "
        "prompt, untrained (LLaMA-Factory's enable_thinking).")

    @field_validator("name_or_path", mode="before")
    @classmethod
    def _name(cls, value):
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty; expected a model folder, a hub id or a packaged name (smollm2-135m-instruct)")
        return expand(value)


    @field_validator("dtype", mode="before")
    @classmethod
    def _dtype(cls, value):
        return DTYPE_NAMES.get(value, value)


DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32",
               "float": "float32"}


class DataConfig(Section):
    train: list[str] = Field(
        default_factory=list,
        description="Training data: files (.jsonl .json .csv .tsv .parquet .txt), folders saved by "
        "`datasets`, or dataset names from dataset_dir/dataset_info.json. A comma string is split.",
    )
    eval: list[str] = Field(
        default_factory=list, description="Separate evaluation data (same forms as train)."
    )
    dataset_dir: str | None = Field(
        None, description="Folder holding LLaMA-Factory's dataset_info.json for dataset names."
    )
    media_dir: str | None = Field(
        None, description="Folder that relative image/audio paths in the data resolve against "
        "(default: the data file's own folder); http(s) URLs are refused."
    )
    format: str | None = Field(
        None, description="Input format (alpaca, sharegpt, messages, ...); None = auto-detect."
    )
    mix: list[float] | None = Field(
        None, description="Sampling weights, one per train dataset; None = concatenate them."
    )
    val_size: float | int = Field(
        0, description="Held-out eval split from train: a ratio in (0, 1) or a row count (>= 1)."
    )
    max_samples: int | None = Field(None, description="Use at most this many rows per dataset.")
    cutoff_len: int = Field(1024, gt=0, description="Maximum tokens per example; longer ones are cut.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Shuffle/split seed; None = train.seed.")
    streaming: bool = Field(False, description="pt and sft: read the train data lazily (constant memory) "
                            "instead of loading it; needs train.max_steps > 0, and eval rows from data.eval "
                            "or an integer val_size (the first N rows). As LLaMA-Factory's streaming.")
    buffer_size: int = Field(1000, gt=0, description="streaming: rows in the seeded shuffle buffer (1 = file "
                             "order). As LLaMA-Factory's buffer_size.")
    packed: str | None = Field(None, description="Train from a pre-tokenised cache written by `mgtrainer data "
                               "pack CFG -o DIR` (its fingerprint must match this config's tokenizer, template, "
                               "cutoff_len and data). As LLaMA-Factory's tokenized_path.")

    @field_validator("train", "eval", mode="before")
    @classmethod
    def _split(cls, value):
        value = comma_list(value)
        return [expand(v) for v in value] if isinstance(value, list) else value

    @field_validator("dataset_dir", "media_dir", "packed", mode="before")
    @classmethod
    def _paths(cls, value):
        return expand(value)

    @field_validator("mix", mode="before")
    @classmethod
    def _mix(cls, value):
        if isinstance(value, (int, float)):
            return [value]
        return comma_list(value) if isinstance(value, str) else value

    @field_validator("val_size")
    @classmethod
    def _val_size(cls, value):
        if value < 0:
            raise ValueError("must be >= 0")
        if isinstance(value, float) and value >= 1:
            if not value.is_integer():
                raise ValueError("a ratio must be < 1; a row count must be a whole number")
            return int(value)
        return value

    @model_validator(mode="after")
    def _mix_matches(self):
        if self.mix is not None and len(self.mix) != len(self.train):
            raise ValueError(f"mix has {len(self.mix)} weights for {len(self.train)} train datasets")
        return self


class TrainConfig(Section):
    output_dir: str | None = Field(None, description="Where checkpoints, metrics, plots and final/ go; "
                                   "None = outputs/<task>.")
    learning_rate: float = Field(5e-5, gt=0, description="Peak learning rate (AdamW).")
    num_train_epochs: float = Field(3.0, gt=0, description="Passes over the train data.")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps; -1 = use epochs.")
    per_device_train_batch_size: int = Field(8, gt=0, description="Train examples per device per step.")
    per_device_eval_batch_size: int = Field(8, gt=0, description="Eval examples per device per step.")
    gradient_accumulation_steps: int = Field(1, gt=0, description="Micro-batches per optimizer step.")
    warmup_ratio: float = Field(0.0, ge=0, le=1, description="Fraction of steps spent warming up.")
    warmup_steps: int = Field(0, ge=0, description="Warm-up steps; overrides warmup_ratio when > 0.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    optim: str = Field("adamw_torch_fused", description="transformers optimizer name (default: transformers' own, "
                       "one fused step for all tensors; adamw_torch steps them one by one, ~10% of a CPU step).")
    lr_scheduler_type: str = Field("linear", description="linear, cosine, constant, ... (transformers).")
    bf16: bool = Field(False, description="Train in bfloat16 mixed precision.")
    fp16: bool = Field(False, description="Train in float16 mixed precision.")
    seed: int = Field(42, ge=0, le=2**32 - 1, description="Random seed for init, shuffling and dropout (numpy takes "
                      "0 to 2**32 - 1).")
    logging_steps: int = Field(10, gt=0, description="Log loss and learning rate every N steps.")
    eval_strategy: Literal["no", "steps", "epoch"] | None = Field(
        None, description="When to evaluate; None = epoch when eval data or val_size is given, else no."
    )
    eval_steps: int | None = Field(None, description="Evaluate every N steps (eval_strategy=steps); "
                                   "None = logging_steps.")
    eval_on_start: bool | None = Field(None, description="Evaluate once before the first step (the step-0 "
                                       "baseline in metrics.jsonl and the report); None = on when evaluating.")
    save_strategy: Literal["no", "steps", "epoch"] = Field("steps", description="When to checkpoint.")
    save_steps: int = Field(500, gt=0, description="Checkpoint every N steps (save_strategy=steps).")
    save_total_limit: int | None = Field(3, description="Keep at most N checkpoints; None = all.")
    metric_for_best_model: str | None = Field(None, description="Eval metric that picks the best "
                                              "checkpoint (e.g. eval_loss, eval_accuracy).")
    greater_is_better: bool | None = Field(None, description="Whether a larger metric is better; "
                                           "None = transformers' rule (True unless the name has 'loss').")
    load_best_model_at_end: bool = Field(False, description="Reload the best checkpoint at the end.")
    early_stopping_patience: int | None = Field(None, description="Stop after N evals without "
                                                "improvement; None = never.")
    resume_from_checkpoint: str | None = Field(None, description="None, 'auto' (the newest complete checkpoint "
                                               "of the same run in output_dir, if any) or a checkpoint path.")
    overwrite_output_dir: bool = Field(False, description="Replace the run already in output_dir (its final/ "
                                       "and checkpoints); without it a new run there is refused.")
    report_to: list[str] = Field(default_factory=list, description="Trackers: tensorboard (OUTPUT_DIR/runs), wandb "
                                 "(offline in OUTPUT_DIR/wandb unless WANDB_MODE / WANDB_API_KEY say otherwise), "
                                 "mlflow (file store OUTPUT_DIR/mlruns unless MLFLOW_TRACKING_URI says otherwise); "
                                 "[] or 'none' = none. metrics.jsonl and plots are always written.")
    gradient_checkpointing: bool = Field(False, description="Trade compute for memory.")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm; 0 = off.")
    group_by_length: bool = Field(False, description="Batch rows of similar length together (fixed batch "
                                  "size, batches shuffled); a task may default it on (its own defaults below).")
    max_tokens_per_batch: int | None = Field(None, description="Cap tokens per batch (dynamic "
                                             "batching); None = fixed batch size.")
    padding_free: bool = Field(False, description="Causal LMs: lay each batch's rows end to end in one row "
                               "(position_ids restart per row: no pad tokens, no attention across rows); with "
                               "max_tokens_per_batch the budget is the rows' summed length. Needs varlen "
                               "attention (flash_attention_2/3); with sdpa/eager (every CPU) the packed row's "
                               "mask is dense, 2x the CPU, so the run uses token-budget batches instead and "
                               "says so (references/benchmarks.md).")
    preview_samples: int = Field(2, ge=0, description="Print this many tokenized train examples "
                                 "(with loss masks) before training.")
    ddp_timeout: int = Field(1800, gt=0, description="Seconds a distributed collective may wait for the "
                             "other ranks before the job fails (TrainingArguments.ddp_timeout).")
    ddp_find_unused_parameters: bool | None = Field(None, description="DDP: look for parameters without a "
                                                    "gradient each step; None = transformers' default.")
    fsdp: str | None = Field(None, description="FSDP sharding, TrainingArguments' string: e.g. 'full_shard "
                             "auto_wrap' (FSDP2 via fsdp_config.version 2 where accelerate supports it).")
    fsdp_config: dict | str | None = Field(None, description="FSDP options (a dict or a JSON file), "
                                           "TrainingArguments.fsdp_config.")
    deepspeed: str | dict | None = Field(None, description="DeepSpeed config: a JSON path, a dict, or a shipped "
                                         "preset: zero2, zero3, zero3-offload (mgtrainer/driver/ds_presets/).")
    hf_args: dict[str, Any] = Field(default_factory=dict, description="Any other transformers TrainingArguments "
                                    "field (adam_beta1, adam_epsilon, tf32, torch_compile, lr_scheduler_kwargs, "
                                    "neftune_noise_alpha, ...), passed as it is; such a name given flat or under "
                                    "train: lands here (config/hf_args.py).")
    trl_args: dict[str, Any] = Field(default_factory=dict, description="Any other field of the task's TRL config "
                                     "(dpo, orpo: DPOConfig; kto: KTOConfig; grpo: GRPOConfig), e.g. label_smoothing, "
                                     "num_iterations, epsilon_high, top_p, scale_rewards, passed as it is; such a "
                                     "name given flat or under train: lands here (config/trl_args.py).")

    @field_validator("output_dir", "deepspeed", mode="before")
    @classmethod
    def _paths(cls, value):
        return expand(value)

    @field_validator("output_dir")
    @classmethod
    def _output_dir(cls, value):
        """A folder, new or existing: not a file, not under a file, not `/` or the home folder itself (a run
        writes checkpoints there and `overwrite_output_dir` would delete them)."""
        if value is None:
            return value
        if not value.strip():
            raise ValueError("empty; expected a folder path such as outputs/my_run")
        path = Path(value).expanduser()
        try:
            if path.resolve() in (Path("/"), Path.home().resolve()):
                raise ValueError("the root or home folder itself; expected a folder of its own, such as "
                                 "outputs/my_run")
            if path.exists() and not path.is_dir():
                raise ValueError("an existing file, not a folder; expected a folder path (new, or an existing folder)")
            for parent in path.parents:
                if parent.exists():
                    if not parent.is_dir():
                        raise ValueError(f"{parent} is a file, not a folder; expected a folder path")
                    break
        except OSError as err:  # a name too long for the file system
            raise ValueError(f"not a usable path ({err.strerror}); expected a folder path") from None
        return value

    @field_validator("hf_args")
    @classmethod
    def _hf_args(cls, value):
        from mgtrainer.config.hf_args import check

        for name in value:
            if name in cls.model_fields:
                raise ValueError(f"'{name}' is train.{name}; expected it there, not in hf_args")
        return {name: check(name, v) for name, v in value.items()}

    @field_validator("report_to", mode="before")
    @classmethod
    def _report_to(cls, value):
        value = comma_list(value)
        return [] if value in (["none"], ["None"]) else value

    @field_validator("eval_strategy", "save_strategy", mode="before")
    @classmethod
    def _strategy(cls, value):
        # YAML 1.1 reads a bare `no` as False: `eval_strategy: no` means the strategy "no".
        return "no" if value is False else value

    @field_validator("resume_from_checkpoint", mode="before")
    @classmethod
    def _resume(cls, value):
        if value is True:
            return "auto"
        return None if value is False else expand(value)

    @model_validator(mode="after")
    def _precision(self):
        if self.bf16 and self.fp16:
            raise ValueError("bf16 and fp16 are both true; choose one")
        return self

    @model_validator(mode="after")
    def _sharding(self):
        from mgtrainer.driver import shard

        if self.deepspeed is not None and self.fsdp:
            raise ValueError("deepspeed and fsdp are both set; choose one sharding engine")
        shard.deepspeed_config(self.deepspeed)  # a preset, a readable JSON object, or a dict
        shard.fsdp_config(self.fsdp_config)
        return self


class LoraConfig(Section):
    finetuning_type: Literal["full", "lora", "freeze"] = Field(
        "lora", description="full = all weights; lora = low-rank adapters; freeze = only some layers."
    )
    rank: int = Field(8, gt=0, description="LoRA rank r.")
    alpha: int | None = Field(None, gt=0, description="LoRA alpha; None = 2 x rank.")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA path.")
    use_rslora: bool = Field(False, description="Rank-stabilised LoRA: scale the update by alpha / sqrt(rank) "
                             "instead of alpha / rank (PEFT's, LLaMA-Factory's and TRL's use_rslora).")
    target: list[str] | str = Field(
        "all-linear",
        description="Modules that get adapters: a list of names, a regex, or all-linear "
        "(LLaMA-Factory's 'all'). A comma string is split into names.",
    )
    adapter_name_or_path: str | None = Field(
        None, description="An adapter trained before (ours: a run folder, final/ or final/adapter; LLaMA-Factory's "
        "or any PEFT folder): lora continues training it (its rank/alpha/targets), full/freeze merge it into the "
        "base first. Its base model must match (mgtrainer's adapters record it; others are checked by shapes).")
    merge: bool = Field(True, description="Merge adapters into final/ (the adapter is kept in "
                        "final/adapter/); false: final/ is only the LoRA adapter (PEFT layout, base model named "
                        "in adapter_config.json), which vLLM serves for sft/pt only.")
    freeze_trainable: list[str] | None = Field(None, description="finetuning_type=freeze: glob patterns of "
                                               "parameter names that train (with freeze_layers; neither = the "
                                               "last layer), as LLaMA-Factory's freeze_trainable_modules.")
    freeze_include: list[str] | None = Field(None, description="Any finetuning_type: glob patterns of parameter "
                                             "names to freeze after the type chose what trains (the vision-language "
                                             "toolkit's meaning), e.g. ['*vision_tower*'].")
    freeze_exclude: list[str] | None = Field(None, description="Any finetuning_type: glob patterns of parameter "
                                             "names that train even where freeze_include or a default freeze (a "
                                             "media model's tower) matches; applied last. lora: base weights it "
                                             "unfreezes need merge: true.")
    freeze_layers: int | None = Field(None, description="finetuning_type=freeze: train the last N "
                                      "layers (N > 0) or the first -N (N < 0), as LLaMA-Factory's "
                                      "freeze_trainable_layers.")

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value):
        if isinstance(value, str):
            if value in ("all", "all-linear"):
                return "all-linear"
            if "," in value or not _REGEX_CHARS.search(value):
                return comma_list(value)
        return value

    @field_validator("freeze_trainable", "freeze_include", "freeze_exclude", mode="before")
    @classmethod
    def _globs(cls, value):
        return None if value is None else comma_list(value)

    @model_validator(mode="after")
    def _alpha(self):
        if self.alpha is None:
            self.alpha = 2 * self.rank
        return self


class EvalConfig(Section):
    generation_samples: int = Field(16, ge=0, description="Generative tasks: eval prompts to generate "
                                    "from and score (ROUGE/exact match); 0 = skip generation.")
    max_new_tokens: int = Field(64, gt=0, description="Tokens generated per eval prompt.")


class ServeConfig(Section):
    host: str = Field("127.0.0.1", description="Address the server binds.")
    port: int = Field(8000, gt=0, lt=65536, description="Port the server listens on.")
    api_key: str | None = Field(None, description="Require this bearer token; None = open.")
    kv_cache_space_gib: float | None = Field(
        None, gt=0, description="vLLM CPU KV cache size in GiB (VLLM_CPU_KVCACHE_SPACE); None = "
        "the serve layer's small default (vLLM alone would reserve ~13 GiB)."
    )
    max_model_len: int | None = Field(None, description="Context length served; None = data.cutoff_len"
                                      " capped by the model's own limit.")
    dtype: str = Field("auto", description="dtype vLLM loads the model in.")
    extra_args: list[str] = Field(default_factory=list, description="Extra `vllm serve` arguments "
                                  "(a string is split like a shell).")

    @field_validator("extra_args", mode="before")
    @classmethod
    def _split(cls, value):
        return shlex.split(value) if isinstance(value, str) else value


SECTIONS: dict[str, type[Section]] = {
    "model": ModelConfig,
    "data": DataConfig,
    "train": TrainConfig,
    "lora": LoraConfig,
    "eval": EvalConfig,
    "serve": ServeConfig,
}
