"""The gradient-cached contrastive loss gives the uncached loss and gradient (MiniLM), and
Matryoshka training ranks with vectors cut to each dimension."""

from pathlib import Path

import pytest
import torch

WIKIQA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "wikiqa" / "wikiqa_dev_rerank.jsonl"
QUERIES = ["how big is bmc software", "what is amber", "who wrote hamlet", "when did ww2 end", "what is a cpu",
           "how tall is everest"]
PASSAGES = ["bmc software is an american company .", "amber is fossilized tree resin .",
            "hamlet is a tragedy by william shakespeare .", "world war ii ended in 1945 .",
            "a cpu executes the instructions of a program .", "mount everest is 8,849 metres tall .",
            "the quick brown fox jumps over the lazy dog .", "paris is the capital of france ."]


@pytest.mark.parametrize("dims", [None, [384, 64]], ids=["plain", "matryoshka"])
def test_cached_loss_equals_uncached(minilm, dims):
    from transformers import AutoModel, AutoTokenizer

    from mgtrainer.tasks.embed import loss_fn

    tok, model = AutoTokenizer.from_pretrained(minilm), AutoModel.from_pretrained(minilm)
    model.eval()  # dropout off: one padded batch and its mini-batches draw different dropout masks
    batch = {"query": dict(tok(QUERIES, padding=True, return_tensors="pt")),
             "passage": dict(tok(PASSAGES, padding=True, return_tensors="pt"))}
    results = []
    for mini in (0, 2):
        model.zero_grad()
        torch.manual_seed(0)
        loss = loss_fn("mean", True, 0.05, dims, mini)(model, batch, gather=False)
        loss.backward()
        results.append((float(loss), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (plain, g0), (cached, g1) = results
    assert cached == pytest.approx(plain, abs=1e-5)
    assert g0.keys() == g1.keys() and len(g0) > 50
    for name in g0:
        assert torch.allclose(g0[name], g1[name], atol=1e-5), name


def test_matryoshka_loss_is_the_sum_over_dims():
    import torch.nn.functional as F

    from mgtrainer.driver.losses import info_nce_loss, matryoshka_loss

    q, p = torch.randn(4, 16), torch.randn(6, 16)

    def nce(a, b):
        return info_nce_loss(a, b[:4], b[4:], 0.05, gather=False)

    want = sum(nce(F.normalize(q[:, :d], dim=-1), F.normalize(p[:, :d], dim=-1)) for d in (16, 8, 4))
    assert float(matryoshka_loss(nce, [q, p], [16, 8, 4], True)) == pytest.approx(float(want), rel=1e-6)


def test_matryoshka_vectors_cut_to_each_dim_still_rank(minilm, tmp_path):
    """Train MiniLM briefly with dims [384, 128, 32]: the run logs ndcg@10 per cut dimension, and final/'s
    vectors cut to each dim rank held-out queries' positives well above chance."""
    from mgtrainer.app import runs
    from mgtrainer.config import load_config

    cfg = load_config({
        "task": {"name": "embed", "hard_negatives": 1, "matryoshka_dims": [384, 128, 32]},
        "model": {"name_or_path": str(minilm)},
        "data": {"train": [str(WIKIQA)], "max_samples": 40, "val_size": 12, "cutoff_len": 64},
        "train": {"output_dir": str(tmp_path / "out"), "max_steps": 3, "per_device_train_batch_size": 8,
                  "learning_rate": 3e-5, "logging_steps": 1, "save_strategy": "no", "eval_strategy": "no"},
        "lora": {"finetuning_type": "full"},
    }, [])
    metrics = runs.train(cfg)
    assert {"eval_ndcg@10_dim128", "eval_ndcg@10_dim32"} <= set(metrics)
    # chance: ~12 queries over a corpus of ~100 passages with 1-2 positives each gives ndcg@10 ~0.05
    for d in (128, 32):
        assert metrics[f"eval_ndcg@10_dim{d}"] > 0.3, (d, metrics)
    assert metrics["eval_ndcg@10"] >= metrics["eval_ndcg@10_dim32"] - 0.05
