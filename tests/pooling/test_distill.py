"""Teacher-score distillation (issue 18): embed from FlagEmbedding's pos_scores / neg_scores, rerank
(listwise, targets: scores) from a teacher's scores. The collators carry the scores of exactly the
passages they sampled, the losses add the distillation term, and short runs on FlagEmbedding's own example
rows (real teacher scores) train; rows without scores are refused with the row's location."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mgtrainer.app import runs
from mgtrainer.config import load_config
from mgtrainer.errors import MgtError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
MSMARCO = SHARED / "flagembedding" / "retrieval_msmarco.jsonl"
RERANK = SHARED / "flagembedding" / "reranker_normal_examples.jsonl"
WIKIQA = SHARED / "wikiqa" / "wikiqa_dev_rerank.jsonl"

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def rows_with_scores():
    """Passage texts name their teacher score, so a decoded batch tells which score belongs where."""
    return [{"query": f"query {q}", "pos": [f"passage {WORDS[i]}" for i in range(2)],
             "neg": [f"passage {WORDS[i]}" for i in range(2, 2 + n)], "prompt": None,
             "pos_scores": [0.0, 1.0], "neg_scores": [float(i) for i in range(2, 2 + n)]} for q, n in ((1, 5), (2, 3))]


def decoded_scores(tok, ids) -> list[float]:
    return [float(WORDS.index(tok.decode(x, skip_special_tokens=True).split()[-1])) for x in ids]


def test_embed_collator_carries_the_sampled_passages_teacher_scores(minilm):
    from transformers import AutoTokenizer

    from mgtrainer.driver.collate import EmbedCollator

    tok = AutoTokenizer.from_pretrained(minilm)
    rows = rows_with_scores()
    plain = EmbedCollator(tok, 32, hard_negatives=4, seed=3)(rows)
    for seed in range(3):
        batch = EmbedCollator(tok, 32, hard_negatives=4, seed=seed, teacher=True)(rows)
        texts = decoded_scores(tok, batch["passage"]["input_ids"])
        want = [[texts[i]] + texts[2 + 4 * i : 2 + 4 * (i + 1)] for i in range(2)]
        assert batch["teacher"].tolist() == want
    assert "teacher" not in plain  # off unless asked; the same draws as before (seeded rng.choice)


def test_rerank_collator_carries_the_group_teacher_scores(minilm):
    from transformers import AutoTokenizer

    from mgtrainer.driver.collate import RerankCollator

    tok = AutoTokenizer.from_pretrained(minilm)
    rows = [{k: v for k, v in r.items() if k != "prompt"} for r in rows_with_scores()]
    batch = RerankCollator(tok, 32, group_size=3, seed=1)(rows)
    passages = [tok.decode(x, skip_special_tokens=True).split(" [SEP] ")[-1] for x in batch["input_ids"]]
    assert batch["teacher"].view(-1).tolist() == [float(WORDS.index(p.split()[-1])) for p in passages]
    assert batch["teacher"].shape == (2, 3) and batch["teacher"][:, 0].max() <= 1.0  # the positive first


def test_embed_loss_adds_the_distillation_term(minilm):
    from transformers import AutoModel, AutoTokenizer

    from mgtrainer.driver.collate import EmbedCollator
    from mgtrainer.driver.losses import info_nce_loss
    from mgtrainer.driver.pooling import embed
    from mgtrainer.tasks.embed import loss_fn

    tok, model = AutoTokenizer.from_pretrained(minilm), AutoModel.from_pretrained(minilm).eval()
    batch = EmbedCollator(tok, 32, hard_negatives=3, seed=0, teacher=True)(rows_with_scores())
    with torch.no_grad():
        q, p = (F.normalize(embed(model, batch[k], "mean", False), dim=-1) for k in ("query", "passage"))
        plain = loss_fn("mean", True, 0.05)(model, batch, gather=False)
        both = loss_fn("mean", True, 0.05, distill=0.5, teacher_temperature=2.0)(model, batch, gather=False)
    student = torch.stack([torch.cat([q[i] @ p[i : i + 1].T, q[i] @ p[2 + 3 * i : 5 + 3 * i].T]) for i in range(2)])
    teacher = F.softmax(batch["teacher"] / 2.0, -1)
    kd = -(teacher * F.log_softmax(student / 0.05, -1)).sum(-1).mean()
    assert plain.item() == pytest.approx(info_nce_loss(q, p[:2], p[2:], 0.05, gather=False).item(), rel=1e-5)
    assert both.item() == pytest.approx((plain + 0.5 * kd).item(), rel=1e-5)


def cfg_of(model, out, task: dict, train: str, finetuning="lora"):
    return load_config({
        "task": task, "model": {"name_or_path": str(model)},
        "data": {"train": [train], "val_size": 2, "cutoff_len": 64},
        "train": {"output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 4, "learning_rate": 1e-3,
                  "logging_steps": 1, "save_strategy": "no"},
        "lora": {"finetuning_type": finetuning, "rank": 4},
    }, [])


def logged_losses(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r and "eval_loss" not in r]


@pytest.mark.parametrize("task", [{"name": "embed", "distill": 1.0, "hard_negatives": 3},
                                  {"name": "rerank", "targets": "scores", "group_size": 4}], ids=["embed", "rerank"])
def test_distillation_trains_on_flagembedding_teacher_scores(tiny_qwen2, tmp_path, task):
    data = MSMARCO if task["name"] == "embed" else RERANK
    metrics = runs.train(cfg_of(tiny_qwen2, tmp_path / "out", task, str(data)))
    assert "eval_ndcg@10" in metrics
    losses = logged_losses(tmp_path / "out")
    assert len(losses) == 2 and all(x == x and x > 0 for x in losses)


@pytest.mark.parametrize("task", [{"name": "embed", "distill": 1.0}, {"name": "rerank", "targets": "scores"}],
                         ids=["embed", "rerank"])
def test_distillation_refuses_rows_without_teacher_scores(tiny_qwen2, tmp_path, task):
    with pytest.raises(MgtError, match=r"wikiqa_dev_rerank.jsonl:\d+: .*teacher score"):
        runs.train(cfg_of(tiny_qwen2, tmp_path / "out", task, str(WIKIQA)))


def test_listwise_teacher_with_bi_encoder_prior_is_refused_at_load(tiny_qwen2, tmp_path):
    task = {"name": "rerank", "targets": "scores", "bi_encoder_weight": 2.0}
    with pytest.raises(MgtError, match="bi_encoder_weight with listwise targets: scores"):
        cfg_of(tiny_qwen2, tmp_path, task, str(RERANK))
    assert cfg_of(tiny_qwen2, tmp_path, task | {"loss": "pointwise"}, str(RERANK)).task.bi_encoder_weight == 2.0


def test_self_distillation_teacher_is_the_starting_models_own_scores(minilm, tmp_path):
    """distill_teacher: start needs no scores in the data: every row gets 100 x the starting model's cosine
    (mine-negatives' scale), and a short run trains on rows that have none (eval rows without scores too)."""
    from transformers import AutoModel, AutoTokenizer

    from mgtrainer.data import iter_records
    from mgtrainer.driver.pooling import cosine_scores
    from mgtrainer.tasks.embed import rows_of, start_scores

    task = {"name": "embed", "distill": 1.0, "distill_teacher": "start", "hard_negatives": 2}
    cfg = cfg_of(minilm, tmp_path / "out", task, str(WIKIQA), finetuning="full")
    rows = rows_of([r for r in iter_records(WIKIQA, kind="embed") if r.pos][:3])
    tok, model = AutoTokenizer.from_pretrained(minilm), AutoModel.from_pretrained(minilm)
    start_scores(cfg, model, tok, rows, "mean", 64)
    for r in rows:
        cos = cosine_scores(model, tok, [r["query"]] * (len(r["pos"]) + len(r["neg"])), r["pos"] + r["neg"], 64)
        assert r["pos_scores"] + r["neg_scores"] == pytest.approx([100 * c for c in cos], abs=1e-3)
    small = cfg.model_copy(update={"data": cfg.data.model_copy(update={"max_samples": 12})})
    assert "eval_ndcg@10" in runs.train(small)
    assert len(logged_losses(tmp_path / "out")) == 2
