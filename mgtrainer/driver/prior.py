"""A bi-encoder prior for cross-encoder training: each (query, passage) pair carries the cosine of the
pair's embeddings by a bi-encoder, so a reranker can learn a correction on top of it (rerank's
`bi_encoder_weight`: score = cross-encoder logit + weight * cosine).

    prior = PairPrior.build(model_cfg, pairs, max_len)     # cosine per (query, passage), computed once
    collator = PriorCollator(RerankCollator(tok, max_len), group_size, prior, seed)   # batch + "prior"
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


def pair_cosines(model_cfg, queries: list[str], passages: list[str], max_len: int, batch_size: int = 64) -> dict:
    """{(query, passage): cosine} by model_cfg's model used as a bi-encoder (encoder head, no training)."""
    from mgtrainer.driver.model import load_model, load_tokenizer
    from mgtrainer.driver.pooling import cosine_scores

    tok = load_tokenizer(model_cfg, "encoder")
    model = load_model(model_cfg, "encoder", tok)
    cos = cosine_scores(model, tok, queries, passages, max_len, batch_size)
    return dict(zip(zip(queries, passages), cos))


def base_cosines(name_or_path: str, queries: list[str], passages: list[str], max_len: int) -> list[float]:
    """Cosine per (query, passage) pair by the model at name_or_path as a bi-encoder (its own dtype and
    code, as a run's model section defaults): what predict adds for a reranker trained with a prior."""
    from types import SimpleNamespace

    model_cfg = SimpleNamespace(name_or_path=name_or_path, dtype="auto", trust_remote_code=False, template=None,
                                attn_implementation=None)
    cos = pair_cosines(model_cfg, queries, passages, max_len)
    return [cos[pair] for pair in zip(queries, passages)]


@dataclass
class PriorCollator:
    """rerank rows (pointwise {"query", "passage", "target"} or listwise {"query", "pos", "neg"}) -> the
    pointwise collator's pair batch + "prior" (one cosine per pair); listwise batches drop "targets"."""

    pointwise: object  # a RerankCollator with group_size 0
    group_size: int
    prior: dict = field(repr=False)
    seed: int = 0

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        from mgtrainer.driver.collate import sample

        flat = []
        for r in rows:
            if "pos" not in r:
                flat.append(r)
                continue
            group = [self.rng.choice(r["pos"])] + sample(r["neg"], self.group_size - 1, self.rng)
            flat += [{"query": r["query"], "passage": p, "target": 0.0} for p in group]
        batch = self.pointwise(flat)
        if self.group_size:
            batch.pop("targets")
        return batch | {"prior": torch.tensor([self.prior[(r["query"], r["passage"])] for r in flat])}
