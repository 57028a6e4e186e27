"""Ranking metrics on hand-checked cases."""

import math

import pytest
import torch

from mgtrainer.driver.collate import sample
from mgtrainer.driver.metrics import pair_metrics, ranking_metrics


def test_perfect_and_worst_ranking():
    m = ranking_metrics([[0.9, 0.1, 0.2]], [[1, 0, 0]])
    assert m["mrr@10"] == 1.0 and m["ndcg@10"] == 1.0 and m["recall@1"] == 1.0
    m = ranking_metrics([[0.0, 0.5, 0.9]], [[1, 0, 0]])
    assert m["mrr@10"] == pytest.approx(1 / 3)
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(4))
    assert m["recall@1"] == 0.0 and m["recall@5"] == 1.0


def test_two_relevant_graded_and_skipped_queries():
    # ranking: c(2), a(0), b(1) ; ideal: c(2), b(1)
    m = ranking_metrics([[0.5, 0.1, 0.9], [0.3, 0.2]], [[0, 1, 2], [0, 0]])  # 2nd query has no relevant: skipped
    dcg = 2 / math.log2(2) + 1 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx(dcg / idcg)
    assert m["recall@1"] == pytest.approx(0.5)
    assert m["mrr@10"] == 1.0


def test_mrr_cut_at_10():
    scores = list(range(20, 0, -1))  # candidate 0 ranked first
    rel = [0] * 20
    rel[12] = 1
    assert ranking_metrics([scores], [rel])["mrr@10"] == 0.0
    rel[12], rel[9] = 0, 1
    assert ranking_metrics([scores], [rel])["mrr@10"] == pytest.approx(0.1)


def test_pair_metrics():
    m = pair_metrics(torch.tensor([1.0, 2.0, 0.0]), torch.tensor([0.0, 3.0, -1.0]))
    assert m["accuracy"] == pytest.approx(2 / 3) and m["margin"] == pytest.approx(1 / 3)


def test_sample_without_then_with_replacement():
    import random

    rng = random.Random(0)
    assert sorted(sample(["a", "b", "c"], 3, rng)) == ["a", "b", "c"]
    assert len(sample(["a"], 3, rng)) == 3 and sample([], 3, rng) == []
