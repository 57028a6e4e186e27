"""The trained-positions loss (driver/kept_logits.py) equals the model's own loss, and so do its gradients."""

import pytest
import torch

from mgtrainer.driver.kept_logits import applies, kept_logits_loss


def _batch(vocab: int):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, vocab, (3, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # right padding
    labels = ids.clone()
    labels[:, :5] = -100  # prompts
    labels[2, :8] = -100
    labels[mask == 0] = -100
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@pytest.mark.parametrize("lora", [False, True])
def test_kept_logits_loss_and_grads_equal_the_models_own(tiny_qwen2, lora):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_qwen2, dtype=torch.float32)
    if lora:
        model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    model.train()
    assert applies(model, model)
    batch = _batch(model.config.vocab_size)
    n = int((batch["labels"][:, 1:] != -100).sum())

    own = model(**batch, num_items_in_batch=n).loss
    own.backward()
    own_grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    kept = kept_logits_loss(model, batch, n)
    kept.backward()
    assert kept.item() == pytest.approx(own.item(), rel=1e-5)
    for k, p in model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, own_grads[k], rtol=1e-4, atol=1e-6)
    assert kept_logits_loss(model, batch).item() == pytest.approx(own.item(), rel=1e-5)  # mean without a count
    model.eval()
    assert not applies(model, model)  # eval keeps the model's own loss (and its logits)
