"""Every field of transformers' TrainingArguments, so that a config may carry any of them (`adam_beta1: 0.95`,
`train.torch_compile: true`, `lr_scheduler_kwargs: {min_lr: 1e-6}`) as it would to transformers, TRL or
LLaMA-Factory: a name that is not one of mgtrainer's own fields or aliases lands in `train.hf_args` and reaches
TrainingArguments (and TRL's configs, its subclasses; LLaMA-Factory's args) as it is.

The table (name:kind, `?` = None allowed) is transformers 5.x's, read from the dataclass; the config layer does not
import transformers (it loads in the light bootstrap), and tests/config/test_hf_args.py checks the table against
the installed transformers, so a lock that moves transformers shows what changed. Kinds are checked here, at the
edge; values transformers itself rejects (an unknown scheduler name) fail when the trainer is built, in one line.

    check(name, value) -> value          a name taken (not REFUSED) and its value in its kind; ValueError
    hf_value(name, value) -> value       the value in its kind (YAML's "1e-8" string read as a float); ValueError
    REFUSED                              names mgtrainer sets itself, with why
"""

from __future__ import annotations

TABLE = """
output_dir:str? per_device_train_batch_size:int num_train_epochs:float max_steps:int learning_rate:float
lr_scheduler_type:str lr_scheduler_kwargs:dict? warmup_steps:float optim:str optim_args:str? weight_decay:float
adam_beta1:float adam_beta2:float adam_epsilon:float optim_target_modules:list? gradient_accumulation_steps:int
average_tokens_across_devices:bool max_grad_norm:float label_smoothing_factor:float bf16:bool fp16:bool
bf16_full_eval:bool fp16_full_eval:bool tf32:bool? activation_checkpointing:bool?
activation_checkpointing_kwargs:dict? gradient_checkpointing:bool? gradient_checkpointing_kwargs:dict?
torch_compile:bool torch_compile_backend:str? torch_compile_mode:str? use_liger_kernel:bool
liger_kernel_config:dict? use_cache:bool neftune_noise_alpha:float? torch_empty_cache_steps:int?
auto_find_batch_size:bool logging_strategy:str logging_steps:float logging_first_step:bool
log_on_each_node:bool logging_nan_inf_filter:bool include_num_input_tokens_seen:str log_level:str
log_level_replica:str disable_tqdm:bool? report_to:list? run_name:str? project:str trackio_space_id:str?
trackio_bucket_id:str? trackio_static_space_id:str? eval_strategy:str eval_steps:float? eval_delay:float
per_device_eval_batch_size:int prediction_loss_only:bool eval_on_start:bool eval_do_concat_batches:bool
eval_use_gather_object:bool eval_accumulation_steps:int? include_for_metrics:list batch_eval_metrics:bool
save_only_model:bool save_strategy:str save_steps:float save_on_each_node:bool save_total_limit:int?
enable_jit_checkpoint:bool push_to_hub:bool hub_token:str? hub_private_repo:bool? hub_model_id:str?
hub_strategy:str hub_always_push:bool hub_revision:str? load_best_model_at_end:bool metric_for_best_model:str?
greater_is_better:bool? ignore_data_skip:bool restore_callback_states_from_checkpoint:bool
full_determinism:bool seed:int data_seed:int? use_cpu:bool accelerator_config:dict? parallelism_config:any?
dataloader_drop_last:bool dataloader_num_workers:int dataloader_pin_memory:bool
dataloader_persistent_workers:bool dataloader_prefetch_factor:int? dataloader_multiprocessing_context:str?
dataloader_in_order:bool remove_unused_columns:bool label_names:list? train_sampling_strategy:str
length_column_name:str ddp_find_unused_parameters:bool? ddp_bucket_cap_mb:int? ddp_broadcast_buffers:bool?
ddp_static_graph:bool? ddp_backend:str? ddp_timeout:int fsdp:str? fsdp_config:dict? deepspeed:dict? debug:list
skip_memory_metrics:bool do_train:bool do_eval:bool do_predict:bool resume_from_checkpoint:str? local_rank:int
"""
KINDS = dict(item.split(":") for item in TABLE.split())
REFUSED = {
    "output_dir": "it is train.output_dir",
    "local_rank": "the launcher sets it (torchrun / --nproc-per-node)",
    "label_names": "each task's collator names its labels",
    "length_column_name": "train.group_by_length measures each row itself",
    "train_sampling_strategy": "it is train.group_by_length",
    "resume_from_checkpoint": "it is train.resume_from_checkpoint",
}
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def check(name: str, value):
    """value for train.hf_args[name], or ValueError saying why the name or the value is not taken."""
    if name in REFUSED:
        raise ValueError(f"'{name}' is not taken: {REFUSED[name]}")
    if name not in KINDS:
        raise ValueError(f"'{name}' is not a TrainingArguments field; expected one of transformers' "
                         "(config/hf_args.py)")
    return hf_value(name, value)


def hf_value(name: str, value):
    """value checked against (and converted to) the field's kind; ValueError with what was expected."""
    kind = KINDS[name]
    if value is None:
        if kind.endswith("?"):
            return None
        raise ValueError(f"None; expected a {kind} (TrainingArguments.{name} takes no None)")
    kind = kind.rstrip("?")
    text = str(value).strip().lower() if isinstance(value, str) else None
    if kind == "any" or kind == "bool" and isinstance(value, bool):
        return value
    if kind == "str" and not isinstance(value, (dict, list)):
        return value  # a name transformers checks itself (a scheduler, an optimizer, a strategy)
    if kind == "bool" and text in TRUE + FALSE:
        return text in TRUE
    if kind == "int" and not isinstance(value, bool):
        try:
            return int(value) if float(value) == int(float(value)) else _bad(name, kind, value)
        except (TypeError, ValueError):
            return _bad(name, kind, value)
    if kind == "float" and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            return _bad(name, kind, value)
    if kind == "dict" and isinstance(value, (dict, str)):
        return value  # a mapping, or JSON text / a file, as transformers reads it
    if kind == "list" and isinstance(value, (list, str)):
        return value
    return _bad(name, kind, value)


def _bad(name: str, kind: str, value):
    raise ValueError(f"{value!r} is not a {kind}; expected a {kind} (TrainingArguments.{name})")
