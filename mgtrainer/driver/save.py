"""final/: the trained model, its tokenizer and the manifest.

full / freeze       the weights (AutoModel*.from_pretrained-loadable), adapter_dir None
lora, merge: true   the merged weights; the adapter kept in final/adapter/, adapter_dir "adapter"
lora, merge: false  only the adapter in PEFT's layout (adapter_config.json names the base model),
                    adapter_dir "." - the layout LLaMA-Factory's backend writes too. No config.json:
                    transformers would then take final/ for a complete model and look for weights.
                    Loaders read the labels from mgtrainer.json (see references/driver.md).

final/ is built in a temp folder beside it and swapped in whole (mgtrainer.atomic), together with the
sentence-transformers files of the pooling tasks (write_sentence_transformers, write_cross_encoder).
"""

from __future__ import annotations

import functools
import json
import shutil
from contextlib import contextmanager
from pathlib import Path

from mgtrainer import atomic
from mgtrainer import manifest as mf
from mgtrainer.driver.metrics import quality_metrics

ST_POOLING = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token", "last": "pooling_mode_lasttoken"}
IDENTITY = "torch.nn.modules.linear.Identity"


def _is_peft(model) -> bool:
    return hasattr(model, "peft_config")


def save_final(trainer, tok, cfg, head: str, metrics: dict, template: str | None = None, export=None,
               **manifest_fields) -> Path:
    """Write OUTPUT_DIR/final (main process only) and return its path; export(folder), if given, adds
    files (e.g. sentence-transformers') before the folder is swapped in."""
    final = Path(cfg.train.output_dir) / "final"
    trainer.accelerator.wait_for_everyone()
    model = trainer.accelerator.unwrap_model(trainer.model)
    with gathered(trainer, model):  # ZeRO-3: every rank takes part in gathering the whole weights
        if not trainer.is_world_process_zero():
            return final
        build = atomic.temp_dir(final)
        with dropped_on_error(build):
            build.chmod(0o755)  # a temp folder is private; final/ is read by servers and other users
            full_precision = functools.partial(_full_precision, cfg.model, head, tok, manifest_fields.get("labels"),
                                               manifest_fields.get("multi_label", False))
            adapter_dir = _save_model(model, build, cfg.lora.merge, full_precision)
            if adapter_dir is not None:  # which base the adapter belongs to: lora.adapter_name_or_path checks it
                from mgtrainer.driver.adapters import write_base
                from mgtrainer.driver.model import resolve_model

                write_base(build / adapter_dir, cfg.model.name_or_path, resolve_model(cfg.model.name_or_path))
    with dropped_on_error(build):
        tok.save_pretrained(build)
        if export is not None:
            export(build)
        manifest = mf.Manifest(
            task=cfg.task.name, base_model=cfg.model.name_or_path, head=head,
            finetuning_type=cfg.lora.finetuning_type, template=template, max_length=cfg.data.cutoff_len,
            adapter_dir=adapter_dir, metrics=quality_metrics(metrics),
            **manifest_fields,
        )
        mf.write(manifest, build)
    return atomic.replace_dir(build, final)


@contextmanager
def dropped_on_error(folder: Path):
    """A half-written folder (a full disk mid-save) is removed at once, freeing its space; the error goes on.
    final/ appears only whole (atomic.replace_dir), so a run without it is a run to resume."""
    try:
        yield
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def gathered(trainer, model):
    """A context in which a ZeRO-3 model's partitioned weights are whole on every rank (a collective:
    all ranks enter it); nothing to do otherwise."""
    from contextlib import nullcontext

    plugin = trainer.accelerator.state.deepspeed_plugin if trainer.is_deepspeed_enabled else None
    if plugin is None or plugin.zero_stage != 3:
        return nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(list(model.parameters()), modifier_rank=None)


def _save_model(model, folder: Path, merge: bool, full_precision) -> str | None:
    """The weights into folder; returns the manifest's adapter_dir. A QLoRA adapter is merged into the base
    reloaded in full precision (full_precision(adapter folder) -> merged model)."""
    if _is_peft(model) and not merge:
        model.save_pretrained(folder)  # the adapter alone: serving/loading pairs it with the base model
        return "."
    if _is_peft(model):
        model.save_pretrained(folder / "adapter")
        quantized = getattr(model.get_base_model(), "is_quantized", False)
        (full_precision(folder / "adapter") if quantized else model.merge_and_unload()).save_pretrained(folder)
        return "adapter"
    model.save_pretrained(folder)
    return None


def _full_precision(model_cfg, head: str, tok, labels, multi_label: bool, adapter: Path):
    """The adapter merged into its base loaded again without quantization, as LLaMA-Factory exports a QLoRA run:
    merged into the 4-bit weights it would be saved rounded to them."""
    from peft import PeftModel

    from mgtrainer.driver.model import load_model

    base = load_model(model_cfg.model_copy(update={"quantization_bit": None}), head, tok, labels, multi_label)
    return PeftModel.from_pretrained(base, adapter).merge_and_unload()


def write_json(path: Path, obj) -> None:
    """Atomic JSON write (mgtrainer.atomic)."""
    atomic.write_text(path, json.dumps(obj, indent=2) + "\n")


def write_sentence_transformers(model_dir: str | Path, *, dim: int, pooling: str, normalize: bool,
                                max_length: int, query_instruction: str | None = None,
                                passage_instruction: str | None = None) -> None:
    """Make a saved AutoModel folder loadable by sentence_transformers.SentenceTransformer.

    Transformer -> Pooling(mode) -> [Normalize]; instructions become the "query"/"document" prompts.
    """
    d = Path(model_dir)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (d / "2_Normalize").mkdir(exist_ok=True)
    write_json(d / "modules.json", modules)
    write_json(d / "sentence_bert_config.json", {"max_seq_length": max_length, "do_lower_case": False})
    write_json(d / "1_Pooling" / "config.json", {"word_embedding_dimension": dim, "include_prompt": True}
               | {key: mode == pooling for mode, key in ST_POOLING.items()})
    prompts = {k: v for k, v in (("query", query_instruction), ("document", passage_instruction)) if v}
    write_json(d / "config_sentence_transformers.json",
               {"prompts": prompts, "default_prompt_name": None,
                "similarity_fn_name": "cosine" if normalize else "dot"})


def write_cross_encoder(model_dir: str | Path, max_length: int) -> None:
    """Make a saved one-logit classifier loadable by sentence_transformers.CrossEncoder with the same scores.

    Plain text pairs (not the chat-template "message" form sentence-transformers picks for decoders with a
    chat template), the raw logit as score (Identity activation, no sigmoid), the same max length.
    """
    d = Path(model_dir)
    write_json(d / "modules.json", [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}])
    write_json(d / "sentence_bert_config.json", {
        "max_seq_length": max_length, "transformer_task": "sequence-classification", "module_output_name": "scores",
        "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}}})
    write_json(d / "config_sentence_transformers.json", {"model_type": "CrossEncoder", "activation_fn": IDENTITY,
                                                         "prompts": {}, "default_prompt_name": None})
    config = json.loads((d / "config.json").read_text())
    write_json(d / "config.json", config | {"sentence_transformers": {"activation_fn": IDENTITY}})  # ST < 6 reads this
