"""Tiny local models: load with Auto*, head_dim >= 32, chat template with tools and assistant masks."""

import json

import pytest

from mgtrainer.driver.model import MINILM_NAMES, resolve_model
from mgtrainer.errors import MgtError

MSGS = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Price of AAPL?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_price", "arguments": {"symbol": "AAPL"}}}]},
    {"role": "tool", "content": "{\"price\": 1}"},
    {"role": "assistant", "content": "It is 1."},
]
TOOLS = [{"type": "function", "function": {"name": "get_price", "parameters": {"type": "object"}}}]


@pytest.mark.parametrize("fixture", ["tiny_qwen2", "tiny_llama"])
def test_tiny_model_loads_and_generates(fixture, request):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = request.getfixturevalue(fixture)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["hidden_size"] // cfg["num_attention_heads"] >= 32
    assert model.config.model_type == ("qwen2" if "qwen2" in fixture else "llama")
    ids = tok.apply_chat_template(MSGS[:2], add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_chat_template_tools_and_assistant_mask(tiny_qwen2):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    text = tok.apply_chat_template(MSGS, tools=TOOLS, tokenize=False)
    assert '"name": "get_price"' in text and "<tool_response>" in text and text.count("<|im_start|>assistant") == 2
    enc = tok.apply_chat_template(MSGS, tools=TOOLS, return_dict=True, return_assistant_tokens_mask=True)
    trained = tok.decode([i for i, m in zip(enc["input_ids"], enc["assistant_masks"]) if m])
    assert trained.startswith("\n<tool_call>") and trained.endswith("It is 1.<|im_end|>")
    assert "Price of AAPL" not in trained


def test_unicode_round_trip(tiny_llama):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama)
    text = "naïve 中文 emoji 🙂 tabs\tand newlines\n"
    assert tok.decode(tok(text)["input_ids"]) == text


def test_minilm_resolves_offline(minilm):
    assert (minilm / "model.safetensors").is_file()
    for name in MINILM_NAMES:
        assert resolve_model(name) == str(minilm)
    assert resolve_model("Sentence-Transformers/all-MiniLM-L6-v2") == str(minilm)
    assert resolve_model("some/other-model") == "some/other-model"


def test_bad_head_dim_is_a_user_error(tmp_path):
    from mgtrainer.driver.tiny import make_tiny_model

    with pytest.raises(MgtError, match="head_dim"):
        make_tiny_model(tmp_path / "m", hidden=64, heads=4)


def test_cli_model_tiny(tmp_path):
    from mgtrainer.cli import main

    assert main(["model", "tiny", str(tmp_path / "m"), "--arch", "llama"]) == 0
    assert (tmp_path / "m" / "chat_template.jinja").is_file() or "chat_template" in (
        tmp_path / "m" / "tokenizer_config.json").read_text()
