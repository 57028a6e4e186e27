"""final/: the trained model, its tokenizer and the manifest.

full / freeze       the weights (AutoModel*.from_pretrained-loadable), adapter_dir None
lora, merge: true   the merged weights; the adapter kept in final/adapter/, adapter_dir "adapter"
lora, merge: false  only the adapter in PEFT's layout (adapter_config.json names the base model),
                    adapter_dir "." - the layout LLaMA-Factory's backend writes too. No config.json:
                    transformers would then take final/ for a complete model and look for weights.
                    Loaders read the labels from mgtrainer.json (see references/driver.md).
"""

from __future__ import annotations

from pathlib import Path

from mgtrainer import atomic, manifest as mf


def _is_peft(model) -> bool:
    return hasattr(model, "peft_config")


def manifest_metrics(metrics: dict) -> dict[str, float]:
    """The quality numbers (runtime and throughput counters left out)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and "runtime" not in k and "per_second" not in k and k != "epoch"}


def save_final(trainer, tok, cfg, head: str, metrics: dict, template: str | None = None, **manifest_fields) -> Path:
    """Write OUTPUT_DIR/final (main process only) and return its path."""
    final = Path(cfg.train.output_dir) / "final"
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return final
    tmp = atomic.temp_dir(final)  # a unique name beside final/: a killed save never leaves a half final/
    model = trainer.accelerator.unwrap_model(trainer.model)
    adapter_dir = None
    if _is_peft(model) and not cfg.lora.merge:
        model.save_pretrained(tmp)  # the adapter alone: serving/loading pairs it with the base model
        adapter_dir = "."
    elif _is_peft(model):
        model.save_pretrained(tmp / "adapter")
        adapter_dir = "adapter"
        model.merge_and_unload().save_pretrained(tmp)
    else:
        model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    manifest = mf.Manifest(
        task=cfg.task.name, base_model=cfg.model.name_or_path, head=head,
        finetuning_type=cfg.lora.finetuning_type, template=template, max_length=cfg.data.cutoff_len,
        adapter_dir=adapter_dir, metrics=manifest_metrics(metrics),
        **manifest_fields,
    )
    mf.write(manifest, tmp)
    atomic.replace_dir(tmp, final)
    return final
