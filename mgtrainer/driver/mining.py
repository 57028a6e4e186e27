"""Hard-negative mining with a bi-encoder, FlagEmbedding's hn_mine style.

    negs = mine_negatives(model, tok, queries, positives, corpus, lo=10, hi=100, num=7)

Every query is ranked against the corpus (cosine of the model's pooled, normalised embeddings); the
negatives are `num` passages sampled (seeded) from the ranks lo..hi-1 (0-based, ranks as in
FlagEmbedding's `range_for_sampling`), never one of the query's positives. The top `lo` ranks are skipped:
on real data many of them are unlabelled positives (false negatives), which teach the model the wrong
thing. When the range holds fewer than `num` candidates, all of them are returned.
"""

from __future__ import annotations

import random


def parse_range(text: str) -> tuple[int, int]:
    """'10-100' -> (10, 100); the start may be 0."""
    lo, _, hi = text.partition("-")
    lo_i, hi_i = int(lo), int(hi)
    if lo_i < 0 or hi_i <= lo_i:
        raise ValueError(f"range {text!r}: expected START-END with 0 <= START < END, e.g. 10-100")
    return lo_i, hi_i


def mine_negatives(model, tok, queries: list[str], positives: list[list[str]], corpus: list[str], lo: int = 10,
                   hi: int = 100, num: int = 7, max_length: int = 256, batch_size: int = 64, seed: int = 0,
                   query_instruction: str = "", passage_instruction: str = "",
                   pooling: str | None = None) -> list[list[str]]:
    """Per query: up to `num` corpus passages ranked lo..hi-1 by the bi-encoder, positives excluded."""
    from mgtrainer.driver.pooling import bi_encoder_pooling, encode

    pooling = pooling or bi_encoder_pooling(model)
    corpus = list(dict.fromkeys(corpus))
    q = encode(model, tok, [query_instruction + x for x in queries], pooling, True, max_length, batch_size)
    p = encode(model, tok, [passage_instruction + x for x in corpus], pooling, True, max_length, batch_size)
    order = (q @ p.T).argsort(dim=1, descending=True)[:, lo:hi].tolist()
    rng = random.Random(seed)
    out = []
    for ranked, pos in zip(order, positives):
        taboo = set(pos)
        cands = [corpus[i] for i in ranked if corpus[i] not in taboo]
        out.append(rng.sample(cands, num) if len(cands) > num else cands)
    return out
