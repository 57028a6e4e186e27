"""Preference pairs with their shared prefix computed once (driver/pair_forward.py) give TRL's fused-head
log-probs and gradients, on a plain model and on LoRA; where it cannot be exact it steps aside."""

import pytest
import torch

from mgtrainer.driver import pair_forward


def _pairs(vocab: int):
    """A TRL preference batch: [prompt + chosen; prompt + rejected], right-padded, labels on completions."""
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(3, vocab, (n,), generator=g) for n in (9, 5, 12)]
    chosen = [torch.randint(3, vocab, (n,), generator=g) for n in (4, 7, 2)]
    rejected = [torch.randint(3, vocab, (n,), generator=g) for n in (6, 3, 5)]
    rejected[1][:2] = chosen[1][:2]  # answers that start alike: their shared tokens are in the prefix too
    rows = [torch.cat([p, c]) for p, c in zip(prompts, chosen)] + [torch.cat([p, r]) for p, r in zip(prompts, rejected)]
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask, labels = torch.zeros_like(ids), torch.full_like(ids, -100)
    for i, row in enumerate(rows):
        ids[i, :len(row)], mask[i, :len(row)] = row, 1
        n = len(prompts[i % 3])
        labels[i, n:len(row)] = row[n:]
    return ids, mask, labels


def _model(path, lora):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "mean_logits", "is_top1"))
    if lora:
        # CAUSAL_LM as TRL builds it: its forward adds inputs_embeds=None, return_dict=None, ... to every call
        model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False,
                                                 task_type="CAUSAL_LM"))
    model.train()
    return model


def _run(model, ids, mask, labels):
    model.zero_grad()
    out = model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False, fused_lm_head=True)
    logps = out.log_probs.sum(1)
    (logps[:3] - logps[3:]).sigmoid().log().sum().backward()  # a DPO-like use of both halves
    stats = {k: getattr(out, k) for k in ("entropy", "mean_logits", "is_top1")}
    return out.log_probs.detach(), {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}, stats


@pytest.mark.parametrize("lora", [False, True])
def test_shared_prefix_log_probs_and_grads_equal_trls(tiny_qwen2, lora):
    model = _model(tiny_qwen2, lora)
    ids, mask, labels = _pairs(model.config.vocab_size)
    trl_logps, trl_grads, trl_stats = _run(model, ids, mask, labels)
    base = model.get_base_model() if lora else model
    pair_forward.install(base)
    calls = []
    backbone = getattr(base, base.base_model_prefix)
    backbone.register_forward_hook(lambda m, a, kw, out: calls.append(kw["input_ids"].shape), with_kwargs=True)
    logps, grads, stats = _run(model, ids, mask, labels)
    assert calls == [(3, 12), (6, 6)]  # the longest shared prefix once per pair, then the longest rest
    torch.testing.assert_close(logps, trl_logps, rtol=1e-4, atol=1e-5)
    assert (logps[labels[:, 1:] == -100] == 0).all()
    scored = labels[:, 1:] != -100  # TRL's metrics read these statistics on scored positions only
    torch.testing.assert_close(stats["entropy"][scored], trl_stats["entropy"][scored], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(stats["mean_logits"][scored], trl_stats["mean_logits"][scored], rtol=1e-4, atol=1e-5)
    assert torch.equal(stats["is_top1"][scored], trl_stats["is_top1"][scored])
    assert set(grads) == set(trl_grads)
    for k in grads:
        torch.testing.assert_close(grads[k], trl_grads[k], rtol=1e-3, atol=1e-5)


def test_shared_prefix_is_measured_per_pair():
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, 0, 0], [5, 6, 7, 9], [5, 9, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
    assert pair_forward.shared_prefix(ids, mask).tolist() == [3, 1]


def test_steps_aside_where_it_cannot_be_exact(tiny_qwen2):
    model = _model(tiny_qwen2, lora=False)
    ids, mask, labels = _pairs(model.config.vocab_size)
    kw = {"input_ids": ids, "attention_mask": mask, "use_cache": False}
    assert pair_forward._applies(model, labels, kw)
    assert pair_forward._applies(model, labels, kw | {"inputs_embeds": None, "return_dict": True})  # peft's
    assert not pair_forward._applies(model, labels, kw | {"pixel_values": ids})  # other inputs
    assert not pair_forward._applies(model, labels, kw | {"output_hidden_states": True})
    assert not pair_forward._applies(model, labels, kw | {"input_ids": ids[:5], "attention_mask": mask[:5]})
    assert not pair_forward._applies(model, labels, kw | {"attention_mask": mask.flip(1)})  # left padding
    model.activation_checkpointing_enable()
    assert not pair_forward._applies(model, labels, kw)
    model.eval()  # no gradient, no checkpointing: the reference pass shares its prefix too
    assert pair_forward._applies(model, labels, kw)
    unrelated = ids.clone()
    unrelated[3:, 0] = ids[:3, 0] + 1  # no pair shares a first token
    assert pair_forward.pair_log_probs(model, unrelated, mask, labels) is None
