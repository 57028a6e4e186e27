"""Causal-LM training loss with logits only where a token is trained.

A chat row's prompt (system prompt, user turn, template tokens) is most of its length, and its labels there
are -100; the standard loss still projects every position onto the vocabulary (49,152 logits a position on
SmolLM2: the lm_head is a fifth of the forward FLOPs and its fp32 logits, with their gradient, most of the
activation memory). transformers' causal LMs take `logits_to_keep` as a boolean (batch, seq) mask and project
only those positions, so the loss here asks for exactly the positions whose next label is trained: the same
per-token cross entropy (sum over trained tokens / num_items_in_batch, as the model's own loss), fewer FLOPs
and far smaller logits. Through the model's own forward, so PEFT, DDP and DeepSpeed wrappers stay in charge.

Used for training steps only (eval keeps the model's own loss, so its logits stay available to metrics),
and only where it is exact: the forward takes `logits_to_keep`, no router aux loss rides on the labels
(MoE `output_router_logits`), no label smoothing.
"""

from __future__ import annotations

import inspect

from mgtrainer.driver.tokenize import IGNORE


def applies(model, unwrapped) -> bool:
    """Whether kept_logits_loss gives the model's own loss for this (unwrapped) model."""
    base = unwrapped.get_base_model() if hasattr(unwrapped, "get_base_model") else unwrapped  # PEFT
    config = getattr(base, "config", None)
    if config is None or getattr(config, "output_router_logits", False):
        return False
    return model.training and "logits_to_keep" in inspect.signature(base.forward).parameters


def kept_logits_loss(model, inputs: dict, num_items_in_batch=None):
    """Mean cross entropy over trained tokens (sum / num_items_in_batch when the Trainer counted them)."""
    import torch.nn.functional as F

    labels = inputs["labels"]
    keep = labels.new_zeros(labels.shape, dtype=bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE  # position t predicts label t + 1
    outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, logits_to_keep=keep)
    targets = labels[:, 1:][keep[:, :-1]]
    loss = F.cross_entropy(outputs.logits.float().reshape(-1, outputs.logits.shape[-1]), targets,
                           ignore_index=IGNORE, reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else targets.numel()
    return loss / count
