"""RunConfig -> LLaMA-Factory's flat YAML arguments, and the pre-launch resume check (no torch here).

Only what changes training is translated; data selection (max_samples, val_size, mix) is done by our
data layer before the rows are written for LLaMA-Factory, so both backends train on the same rows.
Knobs LLaMA-Factory lacks either raise MgtError (they would change what is trained) or are listed in
`notes` (they only change speed or reporting).
"""

from __future__ import annotations

import re
from pathlib import Path

from mgtrainer.config.aliases import LF_ATTN
from mgtrainer.driver.model import resolve_model
from mgtrainer.errors import MgtError

# LF stage -> the record kind it trains on (orpo/simpo are dpo's pref_loss; ppo reads sft-style prompts)
STAGES = {"sft": "chat", "pt": "text", "rm": "preference", "dpo": "preference", "kto": "kto", "ppo": "chat"}
LF_PREF_LOSSES = ("sigmoid", "hinge", "ipo", "orpo", "simpo")  # LF's pref_loss values our dpo/orpo tasks share
NONE_WORDS = ("", "none", "null", "false")
TRAIN_KEYS = ("output_dir", "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
              "per_device_eval_batch_size", "gradient_accumulation_steps", "warmup_ratio", "weight_decay", "optim",
              "lr_scheduler_type", "bf16", "fp16", "seed", "logging_steps", "save_strategy", "save_steps",
              "save_total_limit", "max_grad_norm", "load_best_model_at_end", "metric_for_best_model",
              "greater_is_better")


def stage_of(cfg) -> str:
    name = "dpo" if cfg.task.name == "orpo" else cfg.task.name  # LF trains orpo/simpo as its dpo stage
    if name not in STAGES:
        raise MgtError(f"{cfg.source or '<config>'}:1: task '{name}' has no LLaMA-Factory stage (task.name); "
                       f"expected one of {', '.join(s for s in STAGES if s in ('sft', 'pt', 'rm', 'dpo', 'kto'))}, orpo "
                       "with backend: llamafactory")
    return name


def lora_args(cfg, where: str) -> dict:
    lora = cfg.lora
    out = {"finetuning_type": lora.finetuning_type}
    if lora.finetuning_type == "lora":
        target = lora.target
        if isinstance(target, str) and target != "all-linear":
            raise MgtError(f"{where}: lora.target is a regex ({target}) (lora.target); expected module names or "
                           "all-linear with backend: llamafactory")
        out.update(lora_rank=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                   lora_target="all" if target == "all-linear" else ",".join(target))
    if lora.freeze_include or lora.freeze_exclude:
        key = "freeze_include" if lora.freeze_include else "freeze_exclude"
        raise MgtError(f"{where}: lora.{key} is set (lora.{key}); expected it unset with backend: llamafactory, "
                       "which selects trained layers and module names only (lora.freeze_layers / freeze_trainable)")
    if lora.finetuning_type == "freeze":
        if lora.freeze_layers is not None:
            out["freeze_trainable_layers"] = lora.freeze_layers
        if lora.freeze_trainable:
            names = [re.fullmatch(r"\*\.([\w.]+)\.\*", p) for p in lora.freeze_trainable]
            if not all(names):
                raise MgtError(f"{where}: freeze_trainable {lora.freeze_trainable} (lora.freeze_trainable); expected "
                               "patterns of the form *.NAME.* with backend: llamafactory (module names)")
            out["freeze_trainable_modules"] = ",".join(m.group(1) for m in names)
    return out


def pref_args(task, where: str, notes: list[str]) -> dict:
    """The preference task's loss settings under LLaMA-Factory's names (pref_beta, pref_loss, pref_ftx, simpo_gamma,
    kto_chosen_weight, kto_rejected_weight); one it cannot hold is refused, as it would change what is trained."""
    name = task.name
    if name == "rm" and task.margin:
        raise MgtError(f"{where}: task.margin is {task.margin} (task.margin); expected 0 with backend: llamafactory, "
                       "whose rm stage has no margin")
    if name not in ("dpo", "orpo", "kto"):
        return {}
    if task.max_prompt_length is not None:
        raise MgtError(f"{where}: task.max_prompt_length is set (task.max_prompt_length); expected it unset with "
                       "backend: llamafactory, which cuts rows at data.cutoff_len only")
    if getattr(task, "precompute_ref_log_probs", False):
        notes.append("task.precompute_ref_log_probs is not used by LLaMA-Factory (it keeps the reference model)")
    if name == "kto":
        if task.loss != "kto":
            raise MgtError(f"{where}: task.loss is {task.loss} (task.loss); expected kto with backend: llamafactory")
        return {"pref_beta": task.beta, "kto_chosen_weight": task.desirable_weight,
                "kto_rejected_weight": task.undesirable_weight}
    if task.loss not in LF_PREF_LOSSES:
        raise MgtError(f"{where}: task.loss is {task.loss} (task.loss); expected one of {', '.join(LF_PREF_LOSSES)} "
                       "with backend: llamafactory (its pref_loss)")
    out = {"pref_beta": task.beta, "pref_loss": task.loss, "pref_ftx": task.ftx}  # ftx adds to orpo's own, as LF's
    if task.loss == "simpo":
        out["simpo_gamma"] = 0.5 if task.simpo_gamma is None else task.simpo_gamma
    return out


def train_args(cfg, has_eval: bool, notes: list[str], stage: str = "sft") -> dict:
    t = cfg.train
    out = {key: getattr(t, key) for key in TRAIN_KEYS if getattr(t, key) is not None}
    if t.warmup_steps:
        out["warmup_steps"] = t.warmup_steps
    out["report_to"] = ",".join(t.report_to) if t.report_to else "none"
    out["disable_gradient_checkpointing"] = not t.gradient_checkpointing
    if t.early_stopping_patience is not None:
        out["early_stopping_steps"] = t.early_stopping_patience
    if t.group_by_length and STAGES[stage] in ("chat", "text"):  # transformers 5 renamed group_by_length
        out["train_sampling_strategy"] = "group_by_length"
    elif t.group_by_length:  # transformers' length sampler reads input_ids, which pair/KTO rows do not have
        notes.append(f"train.group_by_length is not used by LLaMA-Factory's {stage} stage (its rows have no "
                     "input_ids for transformers' length sampler)")
    if has_eval and t.eval_strategy != "no":
        out["eval_strategy"] = t.eval_strategy
        out["eval_steps"] = t.eval_steps or t.logging_steps
        out["do_eval"] = True
    if t.max_tokens_per_batch:
        notes.append("train.max_tokens_per_batch is not used by LLaMA-Factory (fixed batch size)")
    if t.padding_free:
        notes.append("train.padding_free is not used by LLaMA-Factory (its nearest is neat_packing, which packs "
                     "rows into cutoff_len blocks)")
    out.update(t.hf_args)  # other TrainingArguments fields: LLaMA-Factory's parser takes them by the same names
    return out


def deepspeed_value(value):
    """LF's `deepspeed:` from ours: a preset name (zero2, zero3, zero3-offload) -> the shipped JSON file,
    a path -> made absolute, a dict -> kept (the backend writes it to a file before launch)."""
    from mgtrainer.driver.shard import PRESETS

    if isinstance(value, dict):
        return value
    preset = PRESETS / f"{value}.json"
    if preset.is_file() and not Path(str(value)).is_file():
        return str(preset)
    return str(Path(str(value)).expanduser().resolve())


def sharding_args(cfg, where: str) -> dict:
    """train.deepspeed -> LF's deepspeed (run under torchrun: llamafactory.launch_env); train.fsdp refused."""
    t = cfg.train
    if t.fsdp:
        raise MgtError(f"{where}: train.fsdp is not translated for LLaMA-Factory, which runs FSDP through "
                       "`accelerate launch --config_file` (train.fsdp); expected train.deepspeed (zero2, zero3, ...) "
                       "with backend: llamafactory, or backend: native for FSDP")
    return {} if t.deepspeed is None else {"deepspeed": deepspeed_value(t.deepspeed)}


def to_lf_args(cfg, dataset_dir: Path, train_name: str, eval_name: str | None) -> tuple[dict, list[str]]:
    """The LLaMA-Factory arguments for a RunConfig whose data was written to dataset_dir; (args, notes)."""
    where = f"{cfg.source or '<config>'}:1"
    notes: list[str] = []
    stage = stage_of(cfg)
    args = {"model_name_or_path": resolve_model(cfg.model.name_or_path),  # packaged names too, as native runs
            "trust_remote_code": cfg.model.trust_remote_code, "stage": stage, "do_train": True,
            "dataset_dir": str(dataset_dir), "dataset": train_name, "cutoff_len": cfg.data.cutoff_len,
            "overwrite_cache": True, "plot_loss": True}
    if cfg.model.template:
        args["template"] = cfg.model.template
    if cfg.lora.adapter_name_or_path:  # LF's own key; our run folders are found inside as natively
        from mgtrainer.driver.adapters import adapter_folder

        args["adapter_name_or_path"] = str(adapter_folder(cfg.lora.adapter_name_or_path).resolve())
    m = cfg.model  # the template settings LLaMA-Factory names the same
    args |= {k: v for k, v in (("default_system", m.default_system), ("tool_format", m.tool_format),
                               ("mask_history", m.mask_history or None),
                               ("enable_thinking", None if m.enable_thinking else False)) if v is not None}
    attn = cfg.model.attn_implementation
    if attn:  # LLaMA-Factory's name for it; a kernel it has no name for goes as it is (LF then says so)
        args["flash_attn"] = next((lf for lf, ours in LF_ATTN.items() if ours == attn), attn)
    if eval_name:
        args["eval_dataset"] = eval_name
    if getattr(cfg.task, "train_on_prompt", False):
        args["train_on_prompt"] = True
    args |= pref_args(cfg.task, where, notes)
    args |= lora_args(cfg, where)
    args |= train_args(cfg, eval_name is not None, notes, stage)
    args |= sharding_args(cfg, where)
    args["resume_from_checkpoint"] = cfg.train.resume_from_checkpoint
    return args, notes


def last_checkpoint(output_dir: Path) -> Path | None:
    """The highest checkpoint-N in output_dir that holds a trainer_state.json."""
    found = []
    for path in Path(output_dir).glob("checkpoint-*"):
        if path.name[11:].isdigit() and (path / "trainer_state.json").is_file():
            found.append((int(path.name[11:]), path))
    return max(found)[1] if found else None


def check_resume(args: dict, where: str, fresh: bool = True) -> dict:
    """Resolve resume_from_checkpoint before launch (LF would fail after loading model and data:
    `FileNotFoundError: ... 'None/trainer_state.json'` in older transformers, "Can't find a valid
    checkpoint at None" / "No valid checkpoint found" in newer ones).

    None / "None" / "null" / "" / false -> the key is dropped; with `fresh` (our RunConfig: None means a
    fresh start) overwrite_output_dir is set so LF does not resume on its own, without it (an LF YAML) LF's
    own rule applies (resume from output_dir's last checkpoint if any); true / "auto" -> the last checkpoint in output_dir, fresh when there is none ("auto") or an
    error (true); a path -> must be a checkpoint folder with trainer_state.json."""
    args = dict(args)
    value = args.pop("resume_from_checkpoint", None)
    text = str(value).strip().lower() if value is not None else ""
    output_dir = Path(str(args.get("output_dir") or "."))
    if value is None or value is False or text in NONE_WORDS:
        if fresh:
            args["overwrite_output_dir"] = True
        return args
    if value is True or text in ("auto", "true", "last"):
        found = last_checkpoint(output_dir)
        if found is None and text == "auto":
            args["overwrite_output_dir"] = True
            return args
        if found is None:
            raise MgtError(f"{where}: resume_from_checkpoint is {value} but {output_dir} has no checkpoint-N folder "
                           "with trainer_state.json (resume_from_checkpoint); expected an earlier run there, "
                           "'auto' (resume if possible), or no resume_from_checkpoint")
        args["resume_from_checkpoint"] = str(found)
        return args
    path = Path(str(value)).expanduser()
    if not (path / "trainer_state.json").is_file():
        what = "does not exist" if not path.exists() else "has no trainer_state.json"
        raise MgtError(f"{where}: resume_from_checkpoint {value} {what} (resume_from_checkpoint); expected a "
                       "checkpoint-N folder written by a previous run, 'auto', or no resume_from_checkpoint")
    args["resume_from_checkpoint"] = str(path)
    return args
