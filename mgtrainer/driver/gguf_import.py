"""A GGUF file -> a plain transformers model folder (safetensors, tokenizer, chat template, generation config).

transformers reads GGUF (with the `gguf` package) for the architectures its loader knows (llama, qwen2,
mistral, gemma, phi3, ...) and dequantizes every tensor to float32. The model it returns still carries a
GGUF quantization config, and `save_pretrained` refuses it; so the model is rebuilt from its config (that
entry removed) and the loaded state dict, which keeps tied embeddings tied. The tokenizer is rebuilt from
the GGUF's vocabulary and merges, with the chat template and special tokens the file declares.

The folder is built beside OUT and renamed into place (mgtrainer.atomic): an interrupted import leaves
no half folder under OUT.
"""

from __future__ import annotations

import json
from pathlib import Path

from mgtrainer import atomic
from mgtrainer.errors import MgtError


def import_gguf(gguf: str | Path, out: str | Path, name: str | None = None) -> Path:
    """Write the model in `gguf` as a float32 transformers folder at `out` (which must not exist)."""
    gguf, out = Path(gguf).expanduser(), Path(out).expanduser()
    if not gguf.is_file():
        raise MgtError(f"{gguf}:1: no such file; expected a .gguf model file")
    if out.exists():
        raise MgtError(f"{out}:1: already exists; expected a new folder for the imported model")
    tok, model = _load(gguf)
    build = atomic.temp_dir(out)
    try:
        plain = _plain_copy(model)
        plain.generation_config = _generation_config(model, tok)
        plain.save_pretrained(build)
        tok.save_pretrained(build)
        _note_source(build, gguf, name)
        build.chmod(0o755)  # mkdtemp made it private; a model folder is as readable as any other output
        return atomic.replace_dir(build, out)
    except BaseException:
        import shutil

        shutil.rmtree(build, ignore_errors=True)
        raise


def _load(gguf: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype="float32")
    except (ValueError, OSError, KeyError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MgtError(f"{gguf}:1: transformers cannot read this GGUF ({first}); expected a causal LM of an "
                       "architecture transformers' GGUF loader knows (llama, qwen2, mistral, gemma, phi3, ...)") from None
    return tok, model


def _plain_copy(model):
    """The same weights in a model without the GGUF quantization config (save_pretrained refuses that)."""
    from transformers import AutoModelForCausalLM

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = ""
    plain = AutoModelForCausalLM.from_config(config, dtype=model.dtype)
    missing, unexpected = plain.load_state_dict(model.state_dict(), strict=False)
    tied = {k for k in missing if k.endswith("lm_head.weight")} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise MgtError(f"GGUF import: weights do not match the architecture (missing {sorted(missing)[:3]}, "
                       f"unexpected {sorted(unexpected)[:3]}); expected a file transformers reads completely")
    plain.tie_weights()
    return plain


def _generation_config(model, tok):
    """Greedy-safe defaults: stop at the tokenizer's eos (the chat turn's end), pad with the pad token."""
    gen = model.generation_config
    eos = gen.eos_token_id if gen.eos_token_id is not None else tok.eos_token_id
    gen.eos_token_id = eos
    gen.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else (eos if isinstance(eos, int) else eos[0])
    return gen


def _note_source(folder: Path, gguf: Path, name: str | None) -> None:
    """Where the weights came from, written beside them for the person who finds the folder."""
    info = {"imported_from": str(gguf), "gguf_file": gguf.name, "name": name or gguf.stem,
            "note": "dequantized to float32 by transformers' GGUF loader"}
    atomic.write_text(folder / "mgtrainer_import.json", json.dumps(info, indent=1) + "\n")
