"""train.max_tokens_per_batch (and group_by_length) for the preference tasks: dpo (pairs) and kto (unpaired +
KL completions) train on batches whose padded tensors stay under the budget, length-grouped, every row once
per epoch; group_by_length keeps the batch size and groups rows by their padded size."""

import pytest

from mgtrainer.app import runs
from mgtrainer.driver import trainer as dt


@pytest.mark.parametrize("task, file", [("dpo", "dpo_en_demo.json"), ("kto", "kto_en_demo.json")])
def test_preference_batches_keep_the_token_budget(task, file, tiny_qwen2, make_cfg, shared_data, monkeypatch):
    built = []
    build = dt.build_trainer
    monkeypatch.setattr(dt, "build_trainer", lambda *a, **k: built.append(build(*a, **k)) or built[-1])
    budget = 3000  # rows of 60-1000 padded tokens (cutoff 512, two sequences per row)
    cfg = make_cfg(task, tiny_qwen2, [shared_data / "llama-factory" / file], data={"max_samples": 16, "cutoff_len": 512},
                   train={"max_steps": 1, "max_tokens_per_batch": budget}, overrides=["max_prompt_length=48"])
    runs.train(cfg)
    trainer = built[0]
    assert trainer.state.global_step == 1
    sizes = []
    for batch in trainer.get_train_dataloader():  # dpo: [chosen; rejected] in input_ids; kto: + KL_input_ids
        padded = sum(batch[k].numel() for k in ("input_ids", "KL_input_ids") if k in batch)
        rows = batch["input_ids"].shape[0] // (2 if task == "dpo" else 1)
        assert padded <= budget or rows == 1, (padded, rows)
        sizes.append(rows)
    assert task == "dpo" or "KL_input_ids" in batch  # kto's KL sequences are inside the budget too
    assert sum(sizes) == len(trainer.train_dataset)  # every row once
    assert len(set(sizes)) > 1  # the batch size follows the rows' lengths (short rows ride in bigger batches)


def test_dpo_group_by_length_keeps_the_batch_size_and_groups_padded_sizes(tiny_qwen2, make_cfg, shared_data,
                                                                         monkeypatch):
    from mgtrainer.driver.preference import padded_tokens

    built = []
    build = dt.build_trainer
    monkeypatch.setattr(dt, "build_trainer", lambda *a, **k: built.append(build(*a, **k)) or built[-1])
    cfg = make_cfg("dpo", tiny_qwen2, [shared_data / "llama-factory" / "dpo_en_demo.json"],
                   data={"max_samples": 32, "cutoff_len": 512}, train={"max_steps": 1, "group_by_length": True},
                   overrides=["max_prompt_length=48"])
    runs.train(cfg)
    trainer = built[0]
    sizes = [padded_tokens(row) for row in trainer.train_dataset]
    batches = list(trainer.get_train_dataloader().batch_sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(sizes)))  # every row once
    assert all(len(b) == 4 for b in sorted(batches, key=len)[1:])  # the batch size (one may be short)
    padded = sum(max(sizes[i] for i in b) * len(b) for b in batches)
    in_order = sum(max(sizes[k:k + 4]) * len(sizes[k:k + 4]) for k in range(0, len(sizes), 4))
    assert padded < in_order  # rows of similar padded size share a batch
