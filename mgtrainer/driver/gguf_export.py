"""A trained causal LM (loaded; an adapter already merged) -> one GGUF file (llama.cpp, Ollama, LM Studio, vLLM's
GGUF loader), written with the `gguf` package's writer: the reverse of gguf_import.py.

Architectures: llama (and mistral, which GGUF calls llama) and qwen2: those whose tensors transformers' GGUF
loader maps back. Tensor names come from gguf's own name map (the one transformers reads with); llama's q/k
weights are permuted as llama.cpp's converter permutes them (transformers un-permutes on load); a tied lm_head
is not written (the loader ties it again). The tokenizer goes in as llama.cpp writes a byte-level BPE one
("gpt2": tokens, token types, merges, bos/eos/pad ids) with the chat template. Types: f32 (every tensor as it
is), f16 (2-D weights in half precision, norms in f32, as llama.cpp), q8_0 (2-D weights in 8-bit blocks of 32
where the row length allows, else f16). The file is written beside OUT and renamed into place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mgtrainer import atomic
from mgtrainer.errors import MgtError

ARCHS = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2"}  # transformers model_type -> GGUF architecture
PRE = {"qwen2": "qwen2"}  # tokenizer.ggml.pre by GGUF architecture; else "default"
OUTTYPES = ("f32", "f16", "q8_0")


def write_gguf(model, tok, out: str | Path, outtype: str, name: str) -> Path:
    """A loaded float32 causal LM and its tokenizer as a GGUF file at out (written beside it, then renamed)."""
    import gguf

    out = Path(out)
    if outtype not in OUTTYPES:
        raise MgtError(f"--outtype {outtype}: unknown; expected one of {', '.join(OUTTYPES)}")
    arch = ARCHS.get(model.config.model_type)
    if arch is None:
        raise MgtError(f"model_type {model.config.model_type!r} has no GGUF export here; expected one of "
                       f"{', '.join(ARCHS)} (transformers' GGUF loader reads them back)")
    part = out.with_name(f"{atomic.PREFIX}{out.name}.{os.getpid()}")  # atomic.sweep's name for a torn temp
    writer = gguf.GGUFWriter(str(part), arch)
    try:
        _metadata(writer, gguf, model.config, arch, outtype, name)
        _tokenizer(writer, gguf, tok, model.config.vocab_size, arch)
        for tensor_name, data, qtype in _tensors(gguf, model, arch, outtype):
            writer.add_tensor(tensor_name, data, raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        part.replace(out)
    except BaseException:
        writer.close()
        part.unlink(missing_ok=True)
        raise
    return out


def _metadata(w, gguf, c, arch: str, outtype: str, name: str) -> None:
    w.add_name(name)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    theta = getattr(c, "rope_theta", None) or (getattr(c, "rope_parameters", None) or {}).get("rope_theta")
    if theta:
        w.add_rope_freq_base(float(theta))
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(c.vocab_size)
    w.add_file_type({"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                     "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[outtype])


def _tokenizer(w, gguf, tok, vocab_size: int, arch: str) -> None:
    """A byte-level BPE tokenizer as llama.cpp writes one; rows of the embedding past the tokenizer's last
    token become unused placeholder tokens."""
    spec = json.loads(tok.backend_tokenizer.to_str())
    if spec["model"]["type"] != "BPE":
        raise MgtError(f"the tokenizer is {spec['model']['type']}, not byte-level BPE; expected a BPE tokenizer "
                       "(the GGUF export writes llama.cpp's gpt2 tokenizer)")
    by_id = {i: t for t, i in tok.get_vocab().items()}
    special = set(tok.all_special_ids) | {a["id"] for a in spec.get("added_tokens", []) if a.get("special")}
    tokens, types = [], []
    for i in range(max(vocab_size, len(by_id))):
        if i in by_id:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"].get("merges", [])]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(PRE.get(arch, "default"))
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    for setter, tid in ((w.add_bos_token_id, tok.bos_token_id), (w.add_eos_token_id, tok.eos_token_id),
                        (w.add_pad_token_id, tok.pad_token_id), (w.add_unk_token_id, tok.unk_token_id)):
        if tid is not None:
            setter(tid)
    w.add_add_bos_token(bool(tok.bos_token_id is not None and tok("x")["input_ids"][:1] == [tok.bos_token_id]))
    if tok.chat_template:
        w.add_chat_template(tok.chat_template)


def _permute(weights, n_head: int, n_head_kv: int):
    """llama.cpp's convert_hf_to_gguf permutation of q/k rows (transformers' loader reverses it)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _tensors(gguf, model, arch: str, outtype: str):
    """(GGUF name, data, quantization type or None) for every tensor the file holds."""
    import numpy as np

    c = model.config
    names = gguf.get_tensor_name_map(next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch),
                                     c.num_hidden_layers)
    tied = getattr(c, "tie_word_embeddings", False)
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue
        base, suffix = hf_name.rsplit(".", 1)
        gguf_name = names.get_name(base)
        if gguf_name is None:
            raise MgtError(f"tensor {hf_name} has no GGUF name for architecture {arch}; expected a plain "
                           f"{arch} model (no extra modules)")
        data = tensor.detach().float().numpy()
        if arch == "llama" and gguf_name.endswith(".attn_q"):
            data = _permute(data, c.num_attention_heads, c.num_attention_heads)
        elif arch == "llama" and gguf_name.endswith(".attn_k"):
            data = _permute(data, c.num_attention_heads, c.num_key_value_heads)
        name = f"{gguf_name}.{suffix}"
        if outtype == "f32" or data.ndim < 2:
            yield name, np.ascontiguousarray(data, dtype=np.float32), None
        elif outtype == "q8_0" and data.shape[-1] % 32 == 0:
            yield name, gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0), gguf.GGMLQuantizationType.Q8_0
        else:
            yield name, np.ascontiguousarray(data, dtype=np.float16), None
