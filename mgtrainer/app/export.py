"""`mgtrainer export RUN --to merged|adapter|gguf -o DEST`: a trained run (its final/, or a checkpoint) in the form
a deployment takes.

  merged   the full model (safetensors, sharded above 2 GB), tokenizer and chat template, generation config and
           manifest: a LoRA adapter is merged into its base (also from final/ with lora.merge: false, or from
           a checkpoint-N of a LoRA run)
  adapter  the PEFT adapter folder alone, with the base it belongs to (mgtrainer-base.json)
  gguf     one GGUF file (--outtype f32 | f16 | q8_0) for llama.cpp / Ollama / LM Studio / vLLM, from the
           merged model (driver/gguf_export.py)

DEST must not exist (a run never overwrites another output unless told: --force replaces it). Folders are built
beside DEST and renamed into place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mgtrainer import atomic
from mgtrainer import manifest as mf
from mgtrainer.errors import MgtError

TARGETS = ("merged", "adapter", "gguf")


def source(run: str | Path) -> Path:
    """The model folder of `run`: RUN/final, or RUN itself when it is a final/ or checkpoint-N folder."""
    run = Path(run)
    for folder in (run / "final", run):
        if (folder / "config.json").is_file() or (folder / "adapter_config.json").is_file():
            return folder
    raise MgtError(f"{run}: no trained model here; expected a run folder (with final/), a final/ folder or a "
                   "checkpoint-N folder")


def export(run: str | Path, to: str, dest: str | Path, outtype: str = "f16", force: bool = False) -> Path:
    if to not in TARGETS:
        raise MgtError(f"--to {to}: unknown; expected one of {', '.join(TARGETS)}")
    src, dest = source(run), Path(dest)
    if dest.exists() and not force:
        raise MgtError(f"{dest}: already exists; expected a new path (or --force to replace it)")
    if to == "adapter":
        return _adapter(src, dest)
    if to == "merged":
        return _merged(src, dest)
    from mgtrainer.driver.gguf_export import write_gguf

    model, tok = _whole(src)
    return write_gguf(model, tok, dest, outtype, (src.parent if src.name == "final" else src).name)


def _adapter(src: Path, dest: Path) -> Path:
    from mgtrainer.driver.adapters import adapter_folder

    folder = adapter_folder(src, "export --to adapter: a full or freeze fine-tune has none; --to merged or "
                                 "--to gguf export it")
    build = atomic.temp_dir(dest)
    keep = [f for f in folder.iterdir() if f.is_file() and (f.name.startswith("adapter_") or (f.suffix in (
        ".json", ".jinja", ".txt", ".model") and f.name != "trainer_state.json"))]
    for f in keep:
        shutil.copy2(f, build / f.name)
    build.chmod(0o755)
    return atomic.replace_dir(build, dest)


def _whole(src: Path):
    """The model in src as one float32 causal LM (an adapter merged into its base) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if (src / "adapter_config.json").is_file():  # final/ of merge: false, or a LoRA checkpoint
        from peft import PeftModel

        from mgtrainer.serve.vllm import adapter_base

        model = AutoModelForCausalLM.from_pretrained(adapter_base(src), dtype=torch.float32)
        model = PeftModel.from_pretrained(model, str(src)).merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    tok_from = src if (src / "tokenizer_config.json").is_file() else src.parent / "final"
    return model, AutoTokenizer.from_pretrained(tok_from)


def _merged(src: Path, dest: Path) -> Path:
    model, tok = _whole(src)
    build = atomic.temp_dir(dest)
    try:
        model.save_pretrained(build, max_shard_size="2GB")
        tok.save_pretrained(build)
        if (src / mf.FILENAME).is_file():  # the same model, now whole: no adapter beside it
            mf.write(mf.read(src).model_copy(update={"adapter_dir": None}), build)
        build.chmod(0o755)
        return atomic.replace_dir(build, dest)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
