"""Token-budget batching: every row once, budget kept, ranks disjoint; per-token loss equals padded batches."""

import random

import pytest

from mgtrainer.driver.collate import TokenBudgetSampler, collator


def test_budget_sampler_covers_rows_and_keeps_budget():
    rng = random.Random(0)
    lengths = [rng.randint(5, 300) for _ in range(500)]
    sampler = TokenBudgetSampler(lengths, max_tokens=1024, seed=1)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(500))
    assert all(max(lengths[i] for i in b) * len(b) <= 1024 for b in batches)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert padded < 1.1 * sum(lengths)  # length-sorted: little padding
    sampler.set_epoch(1)
    assert list(sampler) != batches and sorted(map(sorted, sampler)) == sorted(map(sorted, batches))


def test_budget_sampler_splits_across_ranks():
    lengths = list(range(1, 201))
    shards = [list(TokenBudgetSampler(lengths, 400, seed=3, rank=r, world=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1])
    seen = [i for shard in shards for b in shard for i in b]
    assert len(seen) == len(set(seen))


def test_budget_batches_give_the_padded_per_token_loss(tiny_qwen2, shared_data):
    """Same rows, same model: mean loss over trained tokens is the same with padded or budget batches."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mgtrainer.data import iter_records
    from mgtrainer.driver.tokenize import encode_chats

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen2).eval()
    records = [r for _, r in zip(range(24), iter_records(shared_data / "llama-factory" / "alpaca_en_demo.json",
                                                           kind="chat"))]
    rows = encode_chats(tok, records, 256).rows
    collate = collator(tok, "causal_lm")

    def token_loss(batches):
        total, count = 0.0, 0
        for batch in batches:
            enc = collate([rows[i] for i in batch])
            with torch.no_grad():
                logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            labels = enc["labels"][:, 1:]
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels.flatten(),
                                                     ignore_index=-100, reduction="sum")
            total, count = total + loss.item(), count + (labels != -100).sum().item()
        return total / count

    padded = token_loss([list(range(i, i + 8)) for i in range(0, 24, 8)])
    budget = token_loss(list(TokenBudgetSampler([len(r["input_ids"]) for r in rows], 600, seed=0)))
    assert budget == pytest.approx(padded, rel=1e-4)
