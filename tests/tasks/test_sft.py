"""sft: assistant-only loss masks on real multi-turn data; a few LoRA steps; save -> reload; manifest."""

import json
import math
from pathlib import Path

import pytest

from mgtrainer.app import runs
from mgtrainer import manifest as mf
from mgtrainer.driver.templates import apply_template
from mgtrainer.driver.tokenize import IGNORE, encode_chat, encode_chats, message_dicts


def _records(path, n=None):
    from mgtrainer.data import iter_records

    out = []
    for rec in iter_records(path, kind="chat"):
        out.append(rec)
        if n and len(out) >= n:
            break
    return out


@pytest.mark.parametrize("template", [None, "plain"])  # LLaMA-Factory names: tests/backends/test_lf_templates.py
def test_exactly_the_assistant_tokens_are_trained(tiny_qwen2, shared_data, template):
    """Every glaive tool-call conversation (multi-turn, tools, function calls, observations): the trained
    tokens are exactly those the template's {% generation %} markers call assistant (transformers' own
    assistant mask), for every assistant turn at once."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    if template:
        apply_template(tok, template)
    records = _records(shared_data / "llama-factory" / "glaive_toolcall_en_demo.json")
    assert len(records) == 300
    multi = 0
    for rec in records:
        row, cut = encode_chat(tok, rec, cutoff_len=100_000)
        oracle = tok.apply_chat_template(message_dicts(rec.messages), tools=rec.tools or None, return_dict=True,
                                         return_assistant_tokens_mask=True)
        assert row["input_ids"] == oracle["input_ids"], rec.source
        trained = [lab != IGNORE for lab in row["labels"]]
        assert trained == [bool(m) for m in oracle["assistant_masks"]], rec.source
        assert all(lab in (IGNORE, tid) for lab, tid in zip(row["labels"], row["input_ids"]))
        multi += sum(m.role == "assistant" for m in rec.messages) > 1
    assert multi > 100  # many conversations train several assistant turns in one pass


def test_train_on_prompt_and_truncation(tiny_qwen2, shared_data):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    records = _records(shared_data / "microsoft-foundry" / "gsm8k_chat_train.jsonl", 20)
    full = encode_chats(tok, records, 100_000, train_on_prompt=True)
    assert all(r["labels"] == r["input_ids"] for r in full.rows)
    lengths = [len(r["input_ids"]) for r in full.rows]
    cut = sorted(lengths)[len(lengths) // 2]
    short = encode_chats(tok, records, cut)
    assert short.truncated == sum(n > cut for n in lengths)
    assert all(len(r["input_ids"]) <= cut for r in short.rows)
    assert len(short.rows) + len(short.dropped) == len(records)


def test_fallback_template_for_tokenizer_without_one(minilm):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm)
    assert not tok.chat_template
    assert apply_template(tok, None) == "plain"
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
                                   tokenize=False)
    assert "User: hi" in text and "Assistant: yo" in text


def test_eval_reports_the_generation_metrics_training_wrote(tiny_qwen2, make_cfg, shared_data):
    """`mgtrainer eval` of an sft model with eval.generation_samples reports the generation metrics of
    training's final eval (ROUGE, BLEU-4 and exact match), scored the same way on the same greedy outputs."""
    gsm = shared_data / "microsoft-foundry"
    cfg = make_cfg("sft", tiny_qwen2, [gsm / "gsm8k_chat_train.jsonl"], [gsm / "gsm8k_chat_validation.jsonl"],
                   data={"max_samples": 8}, train={"max_steps": 1}, eval={"generation_samples": 2, "max_new_tokens": 4})
    trained = runs.train(cfg)
    generation = ("eval_rouge-1", "eval_rouge-2", "eval_rouge-l", "eval_bleu-4", "eval_exact_match")
    assert set(generation) <= set(trained)
    again = runs.evaluate(cfg)
    assert {k: again.get(k) for k in generation} == pytest.approx({k: trained[k] for k in generation})


def test_sft_lora_trains_saves_reloads(tiny_qwen2, make_cfg, shared_data):
    import torch
    from transformers import AutoModelForCausalLM

    gsm = shared_data / "microsoft-foundry"
    cfg = make_cfg("sft", tiny_qwen2, [gsm / "gsm8k_chat_train.jsonl"], [gsm / "gsm8k_chat_validation.jsonl"],
                   data={"max_samples": 12, "cutoff_len": 256}, lora={"finetuning_type": "lora", "rank": 4},
                   train={"max_tokens_per_batch": 1024, "learning_rate": 5e-3},
                   eval={"generation_samples": 2, "max_new_tokens": 8})
    metrics = runs.train(cfg)
    out = Path(cfg.train.output_dir)
    final = out / "final"
    man = mf.read(final)
    assert (man.task, man.head, man.finetuning_type, man.adapter_dir) == ("sft", "causal_lm", "lora", "adapter")
    assert man.template == "model" and man.max_length == 256
    assert {"eval_loss", "eval_perplexity", "eval_rouge-1", "eval_rouge-2", "eval_rouge-l", "eval_bleu-4"} <= set(
        man.metrics)
    base = AutoModelForCausalLM.from_pretrained(tiny_qwen2)
    tuned = AutoModelForCausalLM.from_pretrained(final)
    changed = [n for (n, a), b in zip(base.named_parameters(), tuned.parameters()) if not torch.equal(a, b)]
    assert any("mlp" in n for n in changed) and any("self_attn" in n for n in changed)
    again = runs.evaluate(cfg, model_dir=final)
    assert again["eval_loss"] == pytest.approx(metrics["eval_loss"], rel=1e-4)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3]
    assert any("eval_perplexity" in r for r in rows) and any("eval_rouge-1" in r for r in rows)
    # the kept adapter applies to the base model and reproduces the merged weights' outputs
    from peft import PeftModel

    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with_adapter = PeftModel.from_pretrained(base, final / "adapter").eval()
    assert torch.allclose(with_adapter(ids).logits, tuned.eval()(ids).logits, atol=1e-4)


def test_sft_padding_free_trains_and_its_eval_loss_equals_padded_batches(tiny_qwen2, make_cfg, shared_data,
                                                                        monkeypatch, capsys):
    """train.padding_free: rows end to end within a summed-length budget; the run's own eval (flat batches)
    and a padded evaluate() of the saved model give the same per-token loss. The tiny model's sdpa has no
    varlen kernel, so varlen is forced on to run the flat path (sdpa masks the packed row by position_ids);
    left alone, the run falls back to token-budget batches and says so."""
    from transformers import AutoModelForCausalLM

    from mgtrainer.driver import causal

    cfg = make_cfg("sft", tiny_qwen2, [shared_data / "llama-factory" / "alpaca_en_demo.json"],
                   data={"max_samples": 16, "cutoff_len": 256, "val_size": 4},
                   lora={"finetuning_type": "full"},
                   train={"padding_free": True, "max_tokens_per_batch": 768, "learning_rate": 1e-3},
                   eval={"generation_samples": 0})
    monkeypatch.setattr(causal, "varlen_attention", lambda model: True)
    metrics = runs.train(cfg)
    out = Path(cfg.train.output_dir)
    losses = [r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    assert len(losses) >= 2 and all(math.isfinite(x) for x in losses)  # 12 rows, > 768 summed tokens
    padded = runs.evaluate(cfg, model_dir=out / "final")
    assert padded["eval_loss"] == pytest.approx(metrics["eval_loss"], rel=1e-4)
    assert "note: train.padding_free" not in capsys.readouterr().out

    monkeypatch.undo()
    sdpa = causal.varlen_attention(AutoModelForCausalLM.from_pretrained(tiny_qwen2))
    unset = cfg.model_copy(update={"train": cfg.train.model_copy(update={"max_tokens_per_batch": None})})
    fallback = causal.padding_free_or_budget(unset, sdpa)
    assert (fallback.train.padding_free, fallback.train.max_tokens_per_batch) == (False, 4 * 256)
    assert "using token-budget batches of 1024 tokens instead" in capsys.readouterr().out
