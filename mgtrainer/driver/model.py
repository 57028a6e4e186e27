"""Load tokenizer and model for a head; dtype per machine; LoRA / full / freeze fine-tuning."""

from __future__ import annotations

import fnmatch
import re

from mgtrainer.driver.tiny import resolve_model
from mgtrainer.errors import MgtError

DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def gpu_bf16() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def pick_dtype(model_cfg):
    """fp32 on CPU, bf16 on a capable GPU, unless model.dtype names one."""
    import torch

    if model_cfg.dtype != "auto":
        return getattr(torch, DTYPES[model_cfg.dtype])
    return torch.bfloat16 if gpu_bf16() else torch.float32


def load_tokenizer(model_cfg, head: str = "causal_lm"):
    """The model's tokenizer with a pad token; decoders get a chat template (theirs or the fallback)."""
    from transformers import AutoTokenizer

    from mgtrainer.driver.templates import apply_template

    path = resolve_model(model_cfg.name_or_path)
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=model_cfg.trust_remote_code)
    except OSError as err:
        raise MgtError(f"cannot load tokenizer of '{model_cfg.name_or_path}' (model.name_or_path); "
                       f"expected a local model folder: {str(err).splitlines()[0]}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    if head == "causal_lm":
        apply_template(tok, model_cfg.template)
    return tok


def auto_class(head: str):
    """The transformers Auto class that loads a `head` (training and `serve --check` share it)."""
    import transformers as tf

    return {"causal_lm": tf.AutoModelForCausalLM, "sequence_classification": tf.AutoModelForSequenceClassification,
            "encoder": tf.AutoModel}[head]


def load_model(model_cfg, head: str, tokenizer=None, labels: list[str] | None = None, multi_label: bool = False):
    """AutoModelForCausalLM / AutoModelForSequenceClassification / AutoModel for `head`."""

    path = resolve_model(model_cfg.name_or_path)
    kwargs = {"dtype": pick_dtype(model_cfg), "trust_remote_code": model_cfg.trust_remote_code}
    if head == "sequence_classification":
        labels = labels or ["score"]
        kwargs.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={name: i for i, name in enumerate(labels)},
                      problem_type="multi_label_classification" if multi_label else None)
    cls = auto_class(head)
    try:
        model = cls.from_pretrained(path, **{k: v for k, v in kwargs.items() if v is not None})
    except OSError as err:
        raise MgtError(f"cannot load model '{model_cfg.name_or_path}' (model.name_or_path); "
                       f"expected a local model folder: {str(err).splitlines()[0]}") from None
    if tokenizer is not None and model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def head_module_names(model) -> list[str]:
    """Names of the freshly initialised task head (always trained)."""
    return [n for n in ("score", "classifier") if hasattr(model, n)]


def apply_finetuning(model, lora_cfg, head: str):
    """full: nothing; lora: peft adapters; freeze: only globbed / last-N-layer parameters train."""
    if lora_cfg.finetuning_type == "lora":
        return add_lora(model, lora_cfg, head)
    if lora_cfg.finetuning_type == "freeze":
        freeze(model, lora_cfg)
    return model


def add_lora(model, lora_cfg, head: str):
    from peft import LoraConfig, TaskType, get_peft_model

    task_type = {"causal_lm": TaskType.CAUSAL_LM, "sequence_classification": TaskType.SEQ_CLS,
                 "encoder": TaskType.FEATURE_EXTRACTION}[head]
    target = lora_cfg.target
    if isinstance(target, str) and target != "all-linear":
        re.compile(target)  # a regex matched against the end of full module names (peft full-matches)
        target = f".*(?:{target})"
    config = LoraConfig(r=lora_cfg.rank, lora_alpha=lora_cfg.alpha, lora_dropout=lora_cfg.dropout,
                        target_modules=target, task_type=task_type,
                        modules_to_save=head_module_names(model) or None)
    try:
        return get_peft_model(model, config)
    except ValueError as err:
        raise MgtError(f"LoRA target {target!r} (lora.target): {err}; expected module names, a regex "
                       "or all-linear") from None


def _layer_patterns(model, n: int) -> list[str]:
    total = model.config.num_hidden_layers
    ids = range(total - n, total) if n > 0 else range(0, -n)
    return [f"*layers.{i}.*" for i in ids] + [f"*layer.{i}.*" for i in ids]


def freeze(model, lora_cfg) -> None:
    include = list(lora_cfg.freeze_include or [])
    if lora_cfg.freeze_layers:
        include += _layer_patterns(model, lora_cfg.freeze_layers)
    if not include:
        include = _layer_patterns(model, 1)
    include += [f"{h}.*" for h in head_module_names(model)]
    exclude = lora_cfg.freeze_exclude or []
    trained = 0
    for name, param in model.named_parameters():
        keep = any(fnmatch.fnmatch(name, p) for p in include) and not any(fnmatch.fnmatch(name, p) for p in exclude)
        param.requires_grad_(keep)
        trained += keep
    if not trained:
        raise MgtError(f"freeze patterns {include} minus {exclude} (lora.freeze_include/freeze_exclude) "
                       "match no parameter; expected globs like '*layers.1.*' or '*mlp*'")


def count_params(model) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total
