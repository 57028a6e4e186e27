"""The traps a real chat model sets that a tiny random one cannot show (SmolLM2-135M-Instruct):
pad = eos = <|im_end|>, a chat template that injects a default system prompt, tied embeddings through
LoRA merge and save, and a short real run that must actually learn the held-out skill."""

from __future__ import annotations

import json

import pytest
import torch

from mgtrainer.driver.collate import collator
from mgtrainer.driver.tokenize import IGNORE, encode_chat

pytestmark = pytest.mark.heavy


def _record(*turns):
    from mgtrainer.data.records import Message, Record

    roles = ["user", "assistant"] * len(turns)
    return Record(kind="chat", source="test:1", messages=[Message(role=r, content=c) for r, c in zip(roles, turns)])


@pytest.fixture(scope="module")
def tok(smollm2):
    from mgtrainer.config.sections import ModelConfig
    from mgtrainer.driver.model import load_tokenizer

    return load_tokenizer(ModelConfig(name_or_path=str(smollm2)))


def test_the_model_is_the_real_one(smollm2, tok):
    config = json.loads((smollm2 / "config.json").read_text())
    assert config["model_type"] == "llama" and config["vocab_size"] == 49152 and config["tie_word_embeddings"]
    assert "quantization_config" not in config  # a plain folder: save_pretrained and vLLM take it
    assert tok.pad_token == tok.eos_token == "<|im_end|>"


def test_closing_token_trained_although_pad_is_eos_and_default_system_prompt_is_not(tok):
    row, _ = encode_chat(tok, _record("Write 2001-02-03 in words.", "3 February 2001", "And 1999-12-31?",
                                      "31 December 1999"), cutoff_len=512)
    text = tok.decode(row["input_ids"])
    assert "You are a helpful AI assistant named SmolLM" in text  # the template's default system prompt ...
    trained = [t for t, lab in zip(row["input_ids"], row["labels"]) if lab != IGNORE]
    assert tok.decode(trained) == "3 February 2001<|im_end|>31 December 1999<|im_end|>"  # ... is not trained
    eos = tok.eos_token_id
    assert row["input_ids"].count(eos) == 5 and row["labels"].count(eos) == 2  # system, 2 user, 2 assistant ends

    short, _ = encode_chat(tok, _record("Hi", "Hello"), cutoff_len=512)
    batch = collator(tok, "causal_lm")([row, short])  # padded with pad = eos
    padded = batch["labels"][1]
    assert (batch["input_ids"][1][len(short["input_ids"]):] == eos).all()
    assert (padded[len(short["input_ids"]):] == IGNORE).all()  # padding is not trained ...
    closing = max(i for i, t in enumerate(short["input_ids"]) if t == eos)
    assert padded[closing] == eos  # ... the answer's own <|im_end|> is


def test_tied_embeddings_survive_lora_merge_and_save(real_sft, smollm2):
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    final = real_sft / "final"
    assert json.loads((final / "config.json").read_text())["tie_word_embeddings"] is True
    with safe_open(str(next(final.glob("*.safetensors"))), "pt") as f:
        keys = set(f.keys())
    assert "model.embed_tokens.weight" in keys and not any("lora" in k for k in keys)
    model = AutoModelForCausalLM.from_pretrained(final, dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(smollm2, dtype=torch.float32)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert torch.equal(model.model.embed_tokens.weight, base.model.embed_tokens.weight)  # not a LoRA target
    q, q0 = model.model.layers[0].self_attn.q_proj.weight, base.model.layers[0].self_attn.q_proj.weight
    assert not torch.equal(q, q0)  # the merged adapter changed the attention weights


def test_a_short_real_run_learns_the_held_out_skill(real_sft):
    """10 LoRA steps of 8 rows: greedy exact match on held-out dates rises from the base model's 0."""
    rows = [json.loads(line) for line in (real_sft / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    evals = [r for r in rows if "eval_exact_match" in r]
    base, final = evals[0], evals[-1]
    assert base["step"] == 0 and base["eval_exact_match"] == 0.0  # the base model echoes the ISO date
    assert losses[-1] < 0.5 * losses[0]
    assert final["eval_exact_match"] >= 0.5, final
    manifest = json.loads((real_sft / "final" / "mgtrainer.json").read_text())
    gen = json.loads((real_sft / "final" / "generation_config.json").read_text())
    assert gen["eos_token_id"] in (2, [2]) and gen["pad_token_id"] == 2, (gen, manifest)
