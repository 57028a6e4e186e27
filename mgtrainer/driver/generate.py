"""Greedy generation on eval conversations, scored against their last assistant turn (ROUGE / BLEU-4 /
exact match): the one scoring that training's per-eval callback and `mgtrainer eval` both use."""

from __future__ import annotations

from mgtrainer.driver.metrics import generation_metrics, sample_scores
from mgtrainer.driver.tokenize import message_dicts


def prompts_and_references(tok, records, n: int) -> tuple[list[str], list[str]]:
    """The conversation up to its last assistant turn (with the generation prompt) and that turn's text."""
    prompts, refs = [], []
    for rec in records[:n]:
        msgs = message_dicts(rec.messages)
        last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
        prompts.append(tok.apply_chat_template(msgs[:last], tools=rec.tools or None, tokenize=False,
                                               add_generation_prompt=True))
        refs.append(msgs[last]["content"])
    return prompts, refs


def generate(model, tok, prompts: list[str], max_new_tokens: int, batch_size: int = 8) -> list[str]:
    import torch

    side, tok.padding_side = tok.padding_side, "left"
    outs = []
    model.eval()
    try:
        for i in range(0, len(prompts), batch_size):
            enc = tok(prompts[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = enc.to(model.device)
            with torch.no_grad():
                ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tok.pad_token_id)
            outs += tok.batch_decode(ids[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    finally:
        tok.padding_side = side
    return outs


def scored_generations(model, tok, records, n: int, max_new_tokens: int) -> tuple[list[dict], dict]:
    """Greedy generations on the first n eval conversations: one row per sample {prompt, reference, output,
    rouge-l, exact_match} and the eval metrics over them (eval_rouge-1/2/l, eval_bleu-4, eval_exact_match as
    a fraction). Leaves the model in eval mode."""
    prompts, refs = prompts_and_references(tok, records, n)
    outs = generate(model, tok, prompts, max_new_tokens)
    rows = [{"prompt": p, "reference": r, "output": o, **sample_scores(o, r)} for p, r, o in zip(prompts, refs, outs)]
    exact = sum(r["exact_match"] for r in rows) / len(rows)
    return rows, {**{f"eval_{k}": v for k, v in generation_metrics(outs, refs).items()}, "eval_exact_match": exact}


def generation_eval(model, tok, records, n: int, max_new_tokens: int) -> dict:
    """The eval metrics of scored_generations over the first n eval records (empty when n == 0)."""
    if n <= 0 or not records:
        return {}
    return scored_generations(model, tok, records, n, max_new_tokens)[1]
