"""Batching that wastes little on padding; samples never attend to each other (one row = one sample).

`TokenBudgetSampler` groups rows of similar length into batches of at most `max_tokens` tokens
(padded size = longest row x rows), shuffled per epoch; each process takes every world-th batch.
"""

from __future__ import annotations

import random


def collator(tok, head: str):
    """Pads input_ids (pad id), attention_mask and labels (-100 for causal LMs)."""
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithPadding

    if head == "causal_lm":
        return DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100, return_tensors="pt")
    return DataCollatorWithPadding(tok, padding=True, return_tensors="pt")


class TokenBudgetSampler:
    """Batches of row indices whose padded size (max length x rows) stays under max_tokens."""

    def __init__(self, lengths: list[int], max_tokens: int, seed: int = 0, rank: int = 0, world: int = 1,
                 shuffle: bool = True):
        self.lengths, self.max_tokens, self.seed = lengths, max_tokens, seed
        self.rank, self.world, self.shuffle, self.epoch = rank, world, shuffle, 0
        self.batch_size, self.drop_last = None, False  # read by accelerate / transformers

    @property
    def sampler(self):  # accelerate forwards set_epoch to batch_sampler.sampler
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], i))
        batches, cur, longest = [], [], 0
        for i in order:
            longest_new = max(longest, self.lengths[i])
            if cur and longest_new * (len(cur) + 1) > self.max_tokens:
                batches.append(cur)
                cur, longest_new = [], self.lengths[i]
            cur.append(i)
            longest = longest_new
        if cur:
            batches.append(cur)
        if self.shuffle:
            rng.shuffle(batches)
        usable = len(batches) - len(batches) % self.world if len(batches) >= self.world else len(batches)
        return batches[:usable][self.rank :: self.world]

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())


def budget_loader(dataset, lengths, max_tokens: int, collate_fn, seed: int, rank: int = 0, world: int = 1,
                  num_workers: int = 0):
    """A DataLoader over TokenBudgetSampler batches with set_epoch (what Trainer calls each epoch)."""
    from torch.utils.data import DataLoader

    class EpochLoader(DataLoader):
        def set_epoch(self, epoch: int) -> None:
            self.batch_sampler.set_epoch(epoch)

    sampler = TokenBudgetSampler(lengths, max_tokens, seed=seed, rank=rank, world=world)
    return EpochLoader(dataset, batch_sampler=sampler, collate_fn=collate_fn, num_workers=num_workers)
