"""QLoRA (model.quantization_bit, LLaMA-Factory's name; TRL's load_in_4bit, MiniCPM's qlora): LoRA adapters trained
on bitsandbytes-quantized base weights, here on bitsandbytes' CPU backend.

Checked on the tiny Qwen2: the base's linear layers are Linear4bit / Linear8bitLt while training, only the adapter
trains, the loss falls; final/ is a plain full-precision model (no quantization_config) equal to the base reloaded
in float32 with the trained adapter merged (what LLaMA-Factory's export does), and the adapter is kept. The config
names and refusals in one line each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgtrainer.config import load_config
from mgtrainer.errors import MgtError

QUESTIONS = ["What do you see?", "Tell me something.", "Any news?", "What now?", "Say a word.", "Why?",
             "Where are we?", "Who is there?"]


def _cfg(model: Path, out: Path, **model_extra) -> dict:
    return {"task": "sft", "model": {"name_or_path": str(model), **model_extra},
            "data": {"train": [str(out.parent / "rows.jsonl")], "cutoff_len": 48},
            "train": {"output_dir": str(out), "max_steps": 12, "per_device_train_batch_size": 4, "logging_steps": 1,
                      "save_strategy": "no", "learning_rate": 2e-2, "preview_samples": 0, "report_to": "none"},
            "lora": {"finetuning_type": "lora", "rank": 8}, "eval": {"generation_samples": 0}}


@pytest.fixture(scope="module")
def runs(tiny_qwen2, tmp_path_factory) -> dict[str, Path]:
    """The same LoRA sft on the 4-bit base (QLoRA) and on the float32 base."""
    from mgtrainer.app.runs import train

    root = tmp_path_factory.mktemp("qlora")
    (root / "rows.jsonl").write_text("".join(json.dumps({"messages": [{"role": "user", "content": q}, {
        "role": "assistant", "content": "blue green blue"}]}) + "\n" for q in QUESTIONS))
    train(_cfg(tiny_qwen2, root / "q4", quantization_bit=4))
    train(_cfg(tiny_qwen2, root / "plain"))
    return {"q4": root / "q4", "plain": root / "plain"}


def _losses(run: Path) -> list[float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [row["loss"] for row in rows if "loss" in row]


def test_the_base_is_quantized_and_only_the_adapter_trains(tiny_qwen2, tmp_path):
    from mgtrainer.driver.model import apply_finetuning, load_model, load_tokenizer

    (tmp_path / "rows.jsonl").write_text("")
    for bits, layer in ((4, "Linear4bit"), (8, "Linear8bitLt")):
        cfg = load_config(_cfg(tiny_qwen2, tmp_path / "out", quantization_bit=bits))
        tok = load_tokenizer(cfg.model)
        model = apply_finetuning(load_model(cfg.model, "causal_lm", tok), cfg.lora, "causal_lm")
        kinds = {type(m).__name__ for n, m in model.named_modules() if n.endswith("q_proj.base_layer")}
        assert kinds == {layer}, kinds
        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        assert trainable and all("lora_" in n for n in trainable), trainable[:5]


def test_qlora_learns_as_lora_does(runs):
    q4, plain = _losses(runs["q4"]), _losses(runs["plain"])
    print("qlora", q4, "\nlora", plain)
    assert q4[-1] < q4[0] - 0.5, q4  # it learned on the 4-bit base ...
    assert abs(q4[-1] - plain[-1]) < 0.25 * (plain[0] - plain[-1]), (q4, plain)  # ... about as far as on float32


def test_final_is_the_adapter_merged_into_the_full_precision_base(runs, tiny_qwen2):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    final = runs["q4"] / "final"
    assert "quantization_config" not in json.loads((final / "config.json").read_text())
    assert (final / "adapter" / "adapter_config.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(final, dtype=torch.float32)
    assert merged.model.layers[0].self_attn.q_proj.weight.dtype == torch.float32
    base = AutoModelForCausalLM.from_pretrained(tiny_qwen2, dtype=torch.float32)
    expected = PeftModel.from_pretrained(base, final / "adapter").merge_and_unload()
    ids = torch.arange(5, 21).unsqueeze(0)
    with torch.no_grad():
        got, want = merged(ids).logits, expected(ids).logits
        plain = AutoModelForCausalLM.from_pretrained(tiny_qwen2, dtype=torch.float32)(ids).logits
    assert torch.allclose(got, want, atol=1e-4)  # the full-precision base + the adapter, not rounded weights
    assert not torch.allclose(got, plain, atol=1e-3)  # and the adapter is in it


@pytest.mark.parametrize("given, expected", [
    ({"quantization_bit": 4}, (4, "nf4", True)),
    ({"qlora": True}, (4, "nf4", True)),  # MiniCPM finetune.py
    ({"load_in_8bit": True}, (8, "nf4", True)),  # TRL's ModelConfig
    ({"load_in_4bit": True, "bnb_4bit_quant_type": "fp4", "use_bnb_nested_quant": False}, (4, "fp4", False)),
    ({"qlora": False}, (None, "nf4", True)),
])
def test_config_names(given, expected, tmp_path):
    cfg = load_config({"task": "sft", "model": "m", "data": {"train": ["x.jsonl"]}, "finetuning_type": "lora",
                       "output_dir": str(tmp_path), **given})
    assert (cfg.model.quantization_bit, cfg.model.quantization_type, cfg.model.double_quantization) == expected


@pytest.mark.parametrize("given, said", [
    ({"finetuning_type": "full"}, "train only LoRA adapters, but lora.finetuning_type is full"),
    ({"finetuning_type": "lora", "quantization_bit": 3}, "quantization_bit"),
    ({"finetuning_type": "lora", "quantization_method": "hqq"}, "quantization_method"),
    ({"finetuning_type": "lora", "deepspeed": "zero3"}, "cannot be sharded by ZeRO-3"),
    ({"finetuning_type": "lora", "backend": "llamafactory"}, "has no bitsandbytes"),
])
def test_refusals_are_one_line(given, said, tmp_path):
    base = {"task": "sft", "model": "m", "data": {"train": ["x.jsonl"]}, "output_dir": str(tmp_path),
            "quantization_bit": 4}
    with pytest.raises(MgtError) as err:
        load_config({**base, **given})
    assert said in str(err.value) and "\n" not in str(err.value)
