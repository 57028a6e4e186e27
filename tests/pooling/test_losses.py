"""Losses (mgtrainer.driver.losses) and pooling (mgtrainer.driver.pooling) against hand computations and sentence-transformers."""

import math

import pytest
import torch
import torch.nn.functional as F

from mgtrainer.driver import losses as L, pooling as P


def test_bradley_terry_matches_formula_and_margin_raises_loss():
    c, r = torch.tensor([2.0, 0.5]), torch.tensor([1.0, 1.5])
    want = -(math.log(1 / (1 + math.exp(-1.0))) + math.log(1 / (1 + math.exp(1.0)))) / 2
    assert L.bradley_terry_loss(c, r).item() == pytest.approx(want, rel=1e-6)
    assert L.bradley_terry_loss(c, r, margin=1.0) > L.bradley_terry_loss(c, r)


def test_info_nce_hand_computed():
    torch.manual_seed(0)
    q, pos, neg = (F.normalize(torch.randn(n, 8), dim=-1) for n in (3, 3, 6))
    loss = L.info_nce_loss(q, pos, neg, temperature=0.05)
    cands = torch.cat([pos, neg])
    want = sum(-torch.log_softmax(q[i] @ cands.T / 0.05, 0)[i] for i in range(3)) / 3
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)
    assert L.info_nce_loss(q, pos, None, 0.05).item() < loss.item()  # fewer negatives -> easier


def test_distill_loss_is_kl_to_the_teacher_plus_its_entropy():
    """FlagEmbedding's kl_div distillation: soft cross-entropy = KL(teacher || student) + H(teacher); its
    gradient is (softmax(student) - teacher distribution) / B, zero when the student matches the teacher."""
    torch.manual_seed(0)
    student, teacher = torch.randn(3, 4, requires_grad=True), torch.randn(3, 4) * 5
    loss = L.distill_loss(student, teacher, teacher_temperature=2.0)
    t = F.softmax(teacher / 2.0, -1)
    kl = F.kl_div(F.log_softmax(student, -1), t, reduction="batchmean")
    entropy = -(t * t.log()).sum(-1).mean()
    assert loss.item() == pytest.approx((kl + entropy).item(), rel=1e-5)
    loss.backward()
    assert torch.allclose(student.grad, (F.softmax(student, -1) - t).detach() / 3, atol=1e-6)
    matched = (teacher / 2.0).clone().requires_grad_(True)
    L.distill_loss(matched, teacher, 2.0).backward()
    assert matched.grad.abs().max() < 1e-6


def test_info_nce_equals_sentence_transformers_mnrl():
    """Same number as sentence-transformers' MultipleNegativesRankingLoss (scale 20 = temperature 0.05)."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    torch.manual_seed(1)
    q, pos, neg = torch.randn(4, 16), torch.randn(4, 16), torch.randn(4, 16)

    class Fake(torch.nn.Module):
        def forward(self, f):
            return {"sentence_embedding": f["x"]}

    mnrl = MultipleNegativesRankingLoss(Fake(), scale=20.0)
    theirs = mnrl.compute_loss_from_embeddings([q, pos, neg], None)
    ours = L.info_nce_loss(F.normalize(q, dim=-1), F.normalize(pos, dim=-1), F.normalize(neg, dim=-1), 0.05)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)


def test_listwise_and_pointwise():
    logits = torch.tensor([3.0, 0.0, 0.0, -1.0, 2.0, 0.0])
    want = (-torch.log_softmax(logits[:3], 0)[0] - torch.log_softmax(logits[3:], 0)[0]) / 2
    assert L.listwise_loss(logits, 3).item() == pytest.approx(want.item(), rel=1e-6)
    t = torch.tensor([1.0, 0.0, 0.3, 0.0, 1.0, 0.5])
    assert L.pointwise_loss(logits, t).item() == pytest.approx(F.binary_cross_entropy(torch.sigmoid(logits), t).item(), rel=1e-5)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("mode,st_mode", [("mean", "mean"), ("cls", "cls"), ("last", "lasttoken")])
def test_pool_matches_sentence_transformers(mode, st_mode, side):
    from sentence_transformers.sentence_transformer.modules import Pooling

    torch.manual_seed(2)
    hidden = torch.randn(3, 5, 4)
    lengths = [5, 3, 1]
    mask = torch.zeros(3, 5, dtype=torch.long)
    for i, n in enumerate(lengths):
        if side == "right":
            mask[i, :n] = 1
        else:
            mask[i, 5 - n :] = 1
    theirs = Pooling(4, pooling_mode=st_mode)({"token_embeddings": hidden, "attention_mask": mask})["sentence_embedding"]
    assert torch.allclose(P.pool(hidden, mask, mode), theirs, atol=1e-6)


def test_length_groups_cover_rows_and_cut_padding():
    lengths = [3, 40, 4, 41, 3, 39, 5]
    groups = P.length_groups(lengths, cost=8)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert [sorted(lengths[i] for i in g) for g in groups] == [[3, 3, 4, 5], [39, 40, 41]]
    assert P.length_groups(lengths, cost=10_000) == [sorted(range(7), key=lengths.__getitem__)]  # one group


@pytest.mark.parametrize("side", ["right", "left"])
def test_forward_chunks_same_vectors_scores_and_gradients(side, monkeypatch):
    """Length-grouped sub-batches give what one padded batch gives (MiniLM, eval mode, both padding sides)."""
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    from mgtrainer.driver.model import minilm_path

    tok = AutoTokenizer.from_pretrained(minilm_path(), padding_side=side)
    long = "a much longer sentence about pooling, padding and sub-batches of similar length " * 3
    texts = ["a", long, "b c", long[:150], "d"]
    batch = P.tokenize(tok, texts, max_length=64)
    assert len(P.length_groups(batch["attention_mask"].sum(1).tolist(), P.CHUNK_COST["cpu"])) == 2
    enc = AutoModel.from_pretrained(minilm_path()).eval()
    cls = AutoModelForSequenceClassification.from_pretrained(minilm_path(), num_labels=1).eval()

    def outputs():
        enc.zero_grad()
        vec = P.embed(enc, batch, "mean", True)
        vec.sum().backward()
        scores = P.score(cls, tok, texts[:3], texts[2:], max_length=64)
        return vec.detach(), enc.embeddings.word_embeddings.weight.grad.clone(), scores

    grouped = outputs()
    monkeypatch.delitem(P.CHUNK_COST, "cpu")  # one padded batch
    single = outputs()
    for a, b in zip(grouped, single):
        assert torch.allclose(a, b, atol=1e-5)
