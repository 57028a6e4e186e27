"""Token-budget batching: every row once, budget kept, ranks disjoint; per-token loss equals padded batches."""

import random

import pytest

from mgtrainer.driver.collate import GroupedSampler, TokenBudgetSampler, collator, row_length


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


def test_grouped_sampler_keeps_batch_size_cuts_padding_and_is_not_ordered_by_length():
    rng = random.Random(0)
    lengths = [rng.randint(5, 60) for _ in range(1000)]
    sampler = GroupedSampler(lengths, batch_size=16, seed=1)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert [len(b) for b in batches].count(16) == len(batches) - 1  # one short batch (1000 = 62 x 16 + 8)
    padded = lambda bs: sum(max(lengths[i] for i in b) * len(b) for b in bs)  # noqa: E731
    shuffled = list(range(1000))
    rng.shuffle(shuffled)
    assert padded(batches) < 0.75 * padded([shuffled[k:k + 16] for k in range(0, 1000, 16)])
    longest = [max(lengths[i] for i in b) for b in batches]
    assert longest != sorted(longest) and longest != sorted(longest, reverse=True)  # batches shuffled
    sampler.set_epoch(1)
    assert list(sampler) != batches
    shards = [list(GroupedSampler(lengths, 16, seed=1, rank=r, world=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) and not {i for b in shards[0] for i in b} & {i for b in shards[1] for i in b}


def test_row_length_is_the_longest_token_list():
    assert row_length({"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1], "labels": 4}) == 3
    assert row_length({"chosen": [1] * 7, "rejected": [2] * 9}) == 9
    assert row_length({"query": "text", "pos": ["a"]}) == 0


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


def test_padding_free_rows_give_the_padded_per_token_loss(tiny_qwen2, shared_data):
    """Rows laid end to end (position_ids restart, first label of each row -100) give the padded batches'
    per-token loss: no row attends to another (sdpa's block-diagonal mask from position_ids)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mgtrainer.data import iter_records
    from mgtrainer.driver.tokenize import encode_chats

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen2, attn_implementation="sdpa").eval()
    records = [r for _, r in zip(range(12), iter_records(shared_data / "llama-factory" / "alpaca_en_demo.json",
                                                           kind="chat"))]
    rows = encode_chats(tok, records, 256).rows
    with torch.no_grad():
        padded = model(**collator(tok, "causal_lm")(rows)).loss
        flat_batch = collator(tok, "causal_lm", padding_free=True)(rows)
        flat = model(**flat_batch).loss
        leaky = model(input_ids=flat_batch["input_ids"], labels=flat_batch["labels"]).loss  # one causal row
    assert flat_batch["input_ids"].shape == (1, sum(len(r["input_ids"]) for r in rows))
    assert flat.item() == pytest.approx(padded.item(), rel=1e-4)
    assert abs(leaky.item() - padded.item()) > 1e-3  # without position_ids the rows would see each other


def test_flat_budget_counts_summed_lengths():
    lengths = [200, 10, 240]
    batches = list(TokenBudgetSampler(lengths, max_tokens=260, seed=0, flat=True))
    assert sorted(map(sorted, batches)) == [[0, 1], [2]]
    assert all(sum(lengths[i] for i in b) <= 260 for b in batches)
    assert any(len(b) > 1 and max(lengths[i] for i in b) * len(b) > 260 for b in batches)  # padded size would not fit


def test_padding_free_is_refused_for_a_pooling_head(tiny_qwen2):
    from transformers import AutoTokenizer

    from mgtrainer.errors import MgtError

    with pytest.raises(MgtError, match="train.padding_free lays causal-LM rows end to end"):
        collator(AutoTokenizer.from_pretrained(tiny_qwen2), "sequence_classification", padding_free=True)
