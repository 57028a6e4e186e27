"""Preference pairs through the model with their shared prompt computed once, scored only where a label is.

TRL's DPOTrainer stacks a batch as [prompt + chosen; prompt + rejected] (right-padded) and calls
`model(input_ids, attention_mask, labels=..., fused_lm_head=True)` for the policy and again, without
gradient, for the reference; the result's `log_probs` is each next-token label's log-probability (0 where
the label is -100). On a chat pair the prompt (template, system prompt, question) is most of each row, so
the backbone runs it twice per pass, and on CPU TRL's fused head projects every position, prompt and
padding included, onto the vocabulary (its compact path is for Triton devices only).

Here the same call, for the same numbers:
  1. the prefix each pair's two rows share (at least the prompt) runs once: B rows, right-padded, with the
     KV cache kept (and in the autograd graph);
  2. the cache is repeated to 2B rows and the rest of each row runs on it, its positions continuing the
     prefix's (padding inside the prefix is masked out, so every token sees exactly what it sees in the
     full row);
  3. only the positions whose next label is scored are projected by the lm_head.
Attention is exact: the keys and values of a position depend only on the tokens up to it. The numbers
match the full forward to float rounding (tests/driver/test_pair_forward.py, plain and LoRA, with
gradients).

It applies where that holds and falls back to TRL's forward everywhere else: gradient checkpointing (no
cache), FSDP / DeepSpeed (their hooks expect one forward per module a step), MoE router losses, scaled or
soft-capped logits, sliding-window or recurrent layers, left padding, extra model inputs (images), odd
batches, and pairs that share no token.
"""

from __future__ import annotations

import functools
import types

MODEL_INPUTS = {"input_ids", "attention_mask", "use_cache"}
SCALED_LOGITS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier",
                 "logits_scaling")


def install(model) -> None:
    """Wrap `model`'s forward (a causal LM that TRL gave its fused head): fused_lm_head calls on pair
    batches take the shared-prefix path where it is exact; every other call is passed on unchanged."""
    previous = model.forward

    @functools.wraps(type(model).forward)  # generate() validates its kwargs against this signature
    def forward(self, *args, fused_lm_head=False, labels=None, **kwargs):
        if fused_lm_head and not args and _applies(self, labels, kwargs):
            out = pair_log_probs(self, kwargs["input_ids"], kwargs["attention_mask"], labels)
            if out is not None:
                return out
        return previous(*args, fused_lm_head=fused_lm_head, labels=labels, **kwargs)

    model.forward = types.MethodType(forward, model)


def _applies(model, labels, kwargs) -> bool:
    config = model.config.get_text_config()
    ids, mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
    # PeftModelForCausalLM passes inputs_embeds/output_*=None and return_dict: unset options, not inputs
    given = {k for k, v in kwargs.items() if v is not None and not (k == "return_dict" and v)}
    return (labels is not None and ids is not None and mask is not None and given <= MODEL_INPUTS
            and ids.dim() == 2 and ids.size(0) % 2 == 0 and not getattr(model, "_mgt_no_pairs", False)
            and not (model.training and getattr(model, "is_activation_checkpointing", False))
            and not getattr(config, "output_router_logits", False)
            and all(getattr(config, name, None) in (None, 1.0) for name in SCALED_LOGITS)
            and bool((mask.cumprod(1).sum(1) == mask.sum(1)).all()))  # right padding: real tokens first


def shared_prefix(input_ids, attention_mask):
    """Per pair (row i with row i + B): the number of leading tokens both rows have."""
    b = input_ids.size(0) // 2
    real = attention_mask.bool()
    same = (input_ids[:b] == input_ids[b:]) & real[:b] & real[b:]
    return same.long().cumprod(1).sum(1)


def pair_log_probs(model, input_ids, attention_mask, labels):
    """TRL's FusedCausalLMOutput (log_probs, loss, label_mask) for a [chosen; rejected] batch, or None
    when the model's cache is not a plain per-position one (then the caller falls back)."""
    import torch
    from trl.trainer.utils import FusedCausalLMOutput

    b, width = input_ids.size(0) // 2, input_ids.size(1)
    plen = shared_prefix(input_ids, attention_mask)
    if int(plen.min()) < 1:
        return None
    backbone = getattr(model, model.base_model_prefix)
    p = int(plen.max())
    prefix_mask = (torch.arange(p, device=plen.device)[None] < plen[:, None]).long()
    first = backbone(input_ids=input_ids[:b, :p], attention_mask=prefix_mask, use_cache=True)
    cache = first.past_key_values
    if not _plain(cache):
        model._mgt_no_pairs = True
        return None
    cache.reorder_cache(torch.arange(b, device=plen.device).repeat(2))  # [pairs] -> [chosen rows; rejected rows]

    start, lengths = plen.repeat(2), attention_mask.sum(1)
    span = max(1, int((lengths - start).max()))
    where = start[:, None] + torch.arange(span, device=plen.device)[None]  # each rest token's place in its row
    real = where < lengths[:, None]
    rest_ids = input_ids.gather(1, where.clamp(max=width - 1))
    rest = backbone(input_ids=rest_ids, attention_mask=torch.cat([prefix_mask.repeat(2, 1), real.long()], 1),
                    position_ids=where, past_key_values=cache, use_cache=True).last_hidden_state

    scored = labels[:, 1:] != -100  # position t predicts label t + 1
    rows, t = scored.nonzero(as_tuple=True)
    pair = rows % b
    in_prefix = (t < plen[pair])[:, None]
    hidden = torch.where(in_prefix, first.last_hidden_state[pair, t.clamp(max=p - 1)],
                         rest[rows, (t - start[rows]).clamp(0, span - 1)])
    targets = labels[:, 1:][scored]
    logits = model.get_output_embeddings()(hidden).float()
    all_logps = logits.log_softmax(-1)
    logps = all_logps.gather(1, targets[:, None]).squeeze(1)
    with torch.no_grad():  # the per-token statistics TRL's metrics (and WPO's weights) read, as its fused head
        stats = {"entropy": -(all_logps.exp() * all_logps).sum(-1), "mean_logits": logits.mean(-1),
                 "is_top1": logits.argmax(-1) == targets, "log_sum_sq_probs": (2 * all_logps).logsumexp(-1)}

    def placed(values):  # [scored positions] -> [rows, width - 1], zero elsewhere
        return values.new_zeros(scored.shape).masked_scatter(scored, values)

    return FusedCausalLMOutput(loss=-logps.sum() / scored.sum().clamp(min=1), log_probs=placed(logps),
                               label_mask=scored, **{k: placed(v) for k, v in stats.items()})


def _plain(cache) -> bool:
    """Whether every layer of the cache keeps one key/value per position (no sliding window, no state)."""
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in getattr(cache, "layers", [None]))
