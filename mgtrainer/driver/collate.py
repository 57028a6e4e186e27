"""Batching: padding collators, the pooling tasks' collators, and batches that waste little on padding.

Samples never attend to each other (one row = one sample). PairCollator (rm), EmbedCollator (embed)
and RerankCollator (rerank) turn the tasks' rows into tokenised batches for their losses.
`TokenBudgetSampler` groups rows of similar length into batches of at most `max_tokens` tokens
(padded size = longest row x rows; the sum of lengths when rows are laid end to end, padding_free),
shuffled per epoch; each process takes every world-th batch.
`GroupedSampler` keeps the batch size fixed: rows of similar length share a batch (sorted within random
windows of 50 batches, as transformers' LengthGroupedSampler), and the batches are shuffled, so an epoch is
not ordered by length (transformers' sampler runs each window longest to shortest).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


def collator(tok, head: str, padding_free: bool = False, varlen: bool = False):
    """Pads input_ids (pad id), attention_mask and labels (-100 for causal LMs).

    padding_free (causal LMs): a batch's rows are laid end to end in one row, position_ids restarting at
    each (transformers' DataCollatorWithFlattening; each row's first label is -100, so no row learns from
    another). The model then masks attention by position_ids: sdpa/eager build a block-diagonal causal mask
    over the whole row; with varlen (flash attention) cu_seq_lens go along, so a row's attention costs only
    its own length. tests/driver/test_collate.py checks the loss equals the padded batch's.
    """
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithPadding, DataCollatorWithFlattening

    if padding_free:
        if head != "causal_lm":
            from mgtrainer.errors import MgtError

            raise MgtError(f"train.padding_free lays causal-LM rows end to end; expected it unset for a {head} "
                           "model (use train.group_by_length or train.max_tokens_per_batch)")
        return FlatCollator(DataCollatorWithFlattening(return_position_ids=True, separator_id=-100,
                                                       return_flash_attn_kwargs=varlen))
    if head == "causal_lm":
        return DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100, return_tensors="pt")
    return DataCollatorWithPadding(tok, padding=True, return_tensors="pt")


@dataclass
class FlatCollator:
    """padding_free batches: one row of the batch's rows end to end. `flat` tells the trainer's token budget
    to count summed lengths. use_cache False: with a KV cache object present transformers skips the
    position_ids packing check, and the rows would attend to each other."""

    flatten: object
    flat = True

    def __call__(self, rows: list[dict]) -> dict:
        return self.flatten(rows) | {"use_cache": False}


def _tokenize(tokenizer, texts, pairs=None, max_length: int | None = None) -> dict:
    from mgtrainer.driver.pooling import tokenize

    return tokenize(tokenizer, texts, pairs, max_length)


def sample(items: list, k: int, rng: random.Random) -> list:
    """k items without replacement when there are enough, else with replacement; [] when there are none."""
    if not items or k <= 0:
        return []
    return rng.sample(items, k) if len(items) >= k else [rng.choice(items) for _ in range(k)]


@dataclass
class PairCollator:
    """rm rows {"chosen", "rejected"} (texts or token ids) -> one batch: B chosen then B rejected sequences."""

    tokenizer: object
    max_length: int | None = None

    def __call__(self, rows: list[dict]) -> dict:
        texts = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
        return dict(_tokenize(self.tokenizer, texts, max_length=self.max_length))


@dataclass
class EmbedCollator:
    """embed rows {"query", "pos": [..], "neg": [..], "prompt"?} -> {"query": batch, "passage": batch}.

    One positive per query (sampled) and `hard_negatives` negatives per query (sampled, with replacement
    when a row has fewer); passages are the B positives followed by the negatives. teacher (rows with
    pos_scores / neg_scores): + "teacher" (B, 1 + hard_negatives), the sampled passages' teacher scores.
    """

    tokenizer: object
    max_length: int | None = None
    hard_negatives: int = 3
    query_instruction: str | None = None
    passage_instruction: str | None = None
    seed: int = 0
    teacher: bool = False

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def __call__(self, rows: list[dict]) -> dict:
        qi, pi = self.query_instruction or "", self.passage_instruction or ""
        queries = [(r.get("prompt") or qi) + r["query"] for r in rows]
        pos_i = [self.rng.randrange(len(r["pos"])) for r in rows]  # same draws as rng.choice
        neg_i = [sample(range(len(r["neg"] or [])), self.hard_negatives, self.rng) for r in rows]
        pos = [pi + r["pos"][i] for r, i in zip(rows, pos_i)]
        neg = [pi + r["neg"][i] for r, ii in zip(rows, neg_i) for i in ii]
        tok = lambda t: dict(_tokenize(self.tokenizer, t, max_length=self.max_length))  # noqa: E731
        batch = {"query": tok(queries), "passage": tok(pos + neg)}
        if self.teacher and all(len(ii) == self.hard_negatives > 0 and r.get("neg_scores") is not None
                                for r, ii in zip(rows, neg_i)):  # eval rows may have no scores
            import torch

            batch["teacher"] = torch.tensor([[r["pos_scores"][i]] + [r["neg_scores"][j] for j in ii]
                                             for r, i, ii in zip(rows, pos_i, neg_i)])
        return batch


@dataclass
class RerankCollator:
    """rerank rows -> (query, passage) pair batch.

    Pointwise (group_size 0): rows {"query", "passage", "target"} -> batch + "targets".
    Listwise: rows {"query", "pos": [..], "neg": [..]} -> groups of 1 positive + group_size-1 negatives;
    rows with "pos_scores" / "neg_scores" (teacher scores) add "teacher" (B, group_size).
    """

    tokenizer: object
    max_length: int | None = None
    group_size: int = 0
    seed: int = 0

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def __call__(self, rows: list[dict]) -> dict:
        if not self.group_size:
            batch = dict(_tokenize(self.tokenizer, [r["query"] for r in rows], [r["passage"] for r in rows],
                                  self.max_length))
            import torch

            return batch | {"targets": torch.tensor([float(r["target"]) for r in rows])}
        queries, passages, teacher = [], [], []
        for r in rows:
            i, negs = self.rng.randrange(len(r["pos"])), sample(range(len(r["neg"])), self.group_size - 1, self.rng)
            queries += [r["query"]] * (1 + len(negs))
            passages += [r["pos"][i]] + [r["neg"][j] for j in negs]
            if r.get("pos_scores") is not None:
                teacher.append([r["pos_scores"][i]] + [r["neg_scores"][j] for j in negs])
        batch = dict(_tokenize(self.tokenizer, queries, passages, self.max_length))
        if teacher and len(teacher) == len(rows):
            import torch

            batch["teacher"] = torch.tensor(teacher)
        return batch


class TokenBudgetSampler:
    """Batches of row indices whose padded size (max length x rows) stays under max_tokens."""

    def __init__(self, lengths: list[int], max_tokens: int, seed: int = 0, rank: int = 0, world: int = 1,
                 shuffle: bool = True, flat: bool = False):
        self.lengths, self.max_tokens, self.seed, self.flat = lengths, max_tokens, seed, flat  # flat: rows end to end
        self.rank, self.world, self.shuffle, self.epoch = rank, world, shuffle, 0
        self.batch_size, self.drop_last = None, False  # read by accelerate / transformers

    @property
    def sampler(self):  # accelerate forwards set_epoch to batch_sampler.sampler
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        batches = self._cut(rng)
        if self.shuffle:
            rng.shuffle(batches)
        usable = len(batches) - len(batches) % self.world if len(batches) >= self.world else len(batches)
        return batches[:usable][self.rank :: self.world]

    def _cut(self, rng: random.Random) -> list[list[int]]:
        order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], i))
        batches, cur, longest, total = [], [], 0, 0
        for i in order:
            longest_new, total_new = max(longest, self.lengths[i]), total + self.lengths[i]
            if cur and (total_new if self.flat else longest_new * (len(cur) + 1)) > self.max_tokens:
                batches.append(cur)
                cur, longest_new, total_new = [], self.lengths[i], self.lengths[i]
            cur.append(i)
            longest, total = longest_new, total_new
        if cur:
            batches.append(cur)
        return batches

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())


class GroupedSampler(TokenBudgetSampler):
    """Batches of `batch_size` rows of similar length: a seeded permutation, cut into windows of 50
    batches, each window sorted by length and cut into batches; the batches are then shuffled."""

    WINDOW = 50

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0, rank: int = 0, world: int = 1):
        super().__init__(lengths, max_tokens=0, seed=seed, rank=rank, world=world)
        self.rows = batch_size

    def _cut(self, rng: random.Random) -> list[list[int]]:
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        span = self.rows * self.WINDOW
        order = [i for k in range(0, len(order), span)
                 for i in sorted(order[k : k + span], key=lambda i: self.lengths[i])]
        return [order[k : k + self.rows] for k in range(0, len(order), self.rows)]


def row_length(row: dict) -> int:
    """A tokenised row's padded length: its longest token list (input_ids; a pair row's chosen/rejected)."""
    return max((len(v) for v in row.values() if isinstance(v, list) and v and isinstance(v[0], int)), default=0)


def budget_loader(dataset, lengths, max_tokens: int, collate_fn, seed: int, rank: int = 0, world: int = 1,
                  num_workers: int = 0, flat: bool = False):
    """A DataLoader over TokenBudgetSampler batches with set_epoch (what Trainer calls each epoch)."""
    sampler = TokenBudgetSampler(lengths, max_tokens, seed=seed, rank=rank, world=world, flat=flat)
    return _epoch_loader(dataset, batch_sampler=sampler, collate_fn=collate_fn, num_workers=num_workers)


def grouped_loader(dataset, lengths, batch_size: int, collate_fn, seed: int, rank: int = 0, world: int = 1):
    """A DataLoader over GroupedSampler batches (fixed batch size, similar lengths) with set_epoch."""
    sampler = GroupedSampler(lengths, batch_size, seed=seed, rank=rank, world=world)
    return _epoch_loader(dataset, batch_sampler=sampler, collate_fn=collate_fn)


def _epoch_loader(dataset, **kwargs):
    """A DataLoader with set_epoch (what Trainer calls each epoch), passed on to its seeded sampler: the
    batch sampler (TokenBudgetSampler) or the row sampler (EpochShuffle), whichever this loader was given."""
    from torch.utils.data import DataLoader

    class EpochLoader(DataLoader):
        def set_epoch(self, epoch: int) -> None:
            for sampler in (self.batch_sampler, self.sampler):
                if hasattr(sampler, "set_epoch"):
                    sampler.set_epoch(epoch)

    return EpochLoader(dataset, **kwargs)


class EpochShuffle:
    """A seeded permutation of range(n), a new one each epoch (set_epoch)."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        order = list(range(self.n))
        random.Random(self.seed + self.epoch).shuffle(order)
        return iter(order)

    def __len__(self) -> int:
        return self.n


def rank_loader(dataset, batch_size: int, collate_fn, seed: int, drop_last: bool = False):
    """A DataLoader over rows this rank owns alone (not sharded across ranks again), reshuffled per epoch."""
    return _epoch_loader(dataset, batch_size=batch_size, sampler=EpochShuffle(len(dataset), seed),
                         collate_fn=collate_fn, drop_last=drop_last)
