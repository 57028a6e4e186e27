"""Hard-negative mining with a bi-encoder, FlagEmbedding's hn_mine style.

    negs = mine_negatives(model, tok, queries, positives, corpus, lo=10, hi=100, num=7)

Every query is ranked against the corpus (cosine of the model's pooled, normalised embeddings); the
negatives are `num` passages sampled (seeded) from the ranks lo..hi-1 (0-based, ranks as in
FlagEmbedding's `range_for_sampling`), never one of the query's positives. The top `lo` ranks are skipped:
on real data many of them are unlabelled positives (false negatives), which teach the model the wrong
thing. When the range holds fewer than `num` candidates, all of them are returned. `mine` also returns
the bi-encoder's scores of every positive and negative (teacher scores for task.distill / targets: scores).
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
    return [m["neg"] for m in mine(model, tok, queries, positives, corpus, lo, hi, num, max_length, batch_size, seed,
                                   query_instruction, passage_instruction, pooling)]


def mine(model, tok, queries: list[str], positives: list[list[str]], corpus: list[str], lo: int = 10,
         hi: int = 100, num: int = 7, max_length: int = 256, batch_size: int = 64, seed: int = 0,
         query_instruction: str = "", passage_instruction: str = "", pooling: str | None = None) -> list[dict]:
    """Per query {"neg", "pos_scores", "neg_scores"}: the mined negatives and, as teacher scores for
    distillation, 100 x the bi-encoder's cosine of the query with each positive and negative (FlagEmbedding's
    pos_scores / neg_scores scale)."""
    from mgtrainer.driver.pooling import bi_encoder_pooling, encode

    pooling = pooling or bi_encoder_pooling(model)
    corpus = list(dict.fromkeys(corpus))
    q = encode(model, tok, [query_instruction + x for x in queries], pooling, True, max_length, batch_size)
    p = encode(model, tok, [passage_instruction + x for x in corpus], pooling, True, max_length, batch_size)
    flat_pos = [x for pos in positives for x in pos]
    pe = encode(model, tok, [passage_instruction + x for x in flat_pos], pooling, True, max_length, batch_size)
    sims = q @ p.T
    order = sims.argsort(dim=1, descending=True)[:, lo:hi].tolist()
    rng = random.Random(seed)
    out, start = [], 0
    for qi, (ranked, pos) in enumerate(zip(order, positives)):
        taboo = set(pos)
        cands = [i for i in ranked if corpus[i] not in taboo]
        picked = rng.sample(cands, num) if len(cands) > num else cands
        pos_scores = (pe[start : start + len(pos)] @ q[qi]).tolist()
        start += len(pos)
        out.append({"neg": [corpus[i] for i in picked], "pos_scores": [round(100 * s, 4) for s in pos_scores],
                    "neg_scores": [round(100 * float(sims[qi, i]), 4) for i in picked]})
    return out
