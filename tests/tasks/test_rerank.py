"""rerank on a tiny decoder (listwise, LoRA) and on MiniLM (pointwise, full): parameters change, final/
reloads to the same metrics, and sentence-transformers' CrossEncoder gives the same scores."""

from pathlib import Path

import pytest
import torch

from mgtrainer.app import runs
from mgtrainer import manifest, tasks
from mgtrainer.config import load_config

WIKIQA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "wikiqa" / "wikiqa_dev_rerank.jsonl"


def make_cfg(model, out, loss, finetuning):
    return load_config({
        "task": {"name": "rerank", "loss": loss, "group_size": 3},
        "model": {"name_or_path": str(model)},
        "data": {"train": [str(WIKIQA)], "max_samples": 24, "val_size": 8, "cutoff_len": 96},
        "train": {"output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 4, "learning_rate": 1e-3,
                  "logging_steps": 1, "save_steps": 100},
        "lora": {"finetuning_type": finetuning, "rank": 4},
    }, [])


@pytest.fixture(scope="module", params=[("tiny_qwen2", "listwise", "lora"), ("minilm", "pointwise", "full")],
                ids=["tiny_qwen2", "minilm"])
def trained(request, tmp_path_factory):
    name, loss, finetuning = request.param
    base = request.getfixturevalue(name)
    cfg = make_cfg(base, tmp_path_factory.mktemp("rerank") / name, loss, finetuning)
    metrics = runs.train(cfg)
    return cfg, base, Path(cfg.train.output_dir) / "final", metrics


def test_outputs_and_manifest(trained):
    cfg, _, final, metrics = trained
    assert (final.parent / "metrics.jsonl").is_file() and any((final.parent / "plots").glob("*.png"))
    assert 0.0 <= metrics["eval_ndcg@10"] <= 1.0 and "eval_mrr@10" in metrics
    m = manifest.read(final)
    assert (m.task, m.head, m.finetuning_type) == ("rerank", "sequence_classification", cfg.lora.finetuning_type)


def test_parameters_change(trained):
    from transformers import AutoModel

    _, base, final, _ = trained
    before, after = AutoModel.from_pretrained(base).state_dict(), AutoModel.from_pretrained(final).state_dict()
    assert [k for k in after if k in before and not torch.equal(before[k], after[k])], "no parameter changed"


def test_reload_gives_same_metrics(trained):
    cfg, _, final, metrics = trained
    again = runs.evaluate(cfg, model_dir=final)
    for key in ("eval_ndcg@10", "eval_mrr@10"):
        assert again[key] == pytest.approx(metrics[key], abs=1e-6)


def test_cross_encoder_and_automodel_give_same_scores(trained):
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from mgtrainer.driver.pooling import score

    cfg, _, final, _ = trained
    pairs = [("how long was i love lucy on the air", "the series originally ran from october 15 , 1951 ."),
             ("how big is bmc software", "bmc software , inc. is an american company ."),
             ("what is amber", "amber is fossilized tree resin .")]
    model = AutoModelForSequenceClassification.from_pretrained(final)
    assert model.config.num_labels == 1
    ours = score(model, AutoTokenizer.from_pretrained(final), [q for q, _ in pairs], [p for _, p in pairs],
                 max_length=cfg.data.cutoff_len)
    theirs = CrossEncoder(str(final), device="cpu", max_length=cfg.data.cutoff_len).predict(pairs, convert_to_tensor=True)
    assert torch.allclose(ours, theirs.cpu().float(), atol=1e-5)


def test_zeroshot_bi_encoder_logged_at_step_0(trained):
    """The starting model as a bi-encoder ranks the eval queries once: eval_zeroshot_* at step 0 in
    metrics.jsonl (so the report plots it) and beside the trained metrics, equal to an independent cosine."""
    import json

    from mgtrainer.driver.metrics import ranking_metrics
    from mgtrainer.tasks.rerank import bi_encoder_scores

    cfg, _, final, metrics = trained
    rows = [json.loads(line) for line in (final.parent / "metrics.jsonl").read_text().splitlines()]
    first = next(r for r in rows if "eval_ndcg@10" in r)
    assert first["step"] == 0 and "eval_zeroshot_ndcg@10" in first
    assert metrics["eval_zeroshot_ndcg@10"] == pytest.approx(first["eval_zeroshot_ndcg@10"])
    splits = runs.load_data(cfg, tasks.get("rerank"))
    again = ranking_metrics(bi_encoder_scores(cfg, splits.eval, cfg.data.cutoff_len), [r.labels for r in splits.eval])
    assert again["ndcg@10"] == pytest.approx(metrics["eval_zeroshot_ndcg@10"], abs=1e-6)


def test_warning_when_training_made_ranking_worse(capsys):
    from mgtrainer.tasks.rerank import warn_if_worse

    assert warn_if_worse({"eval_ndcg@10": 0.70, "eval_zeroshot_ndcg@10": 0.78})
    assert "WARNING" in capsys.readouterr().out
    assert not warn_if_worse({"eval_ndcg@10": 0.80, "eval_zeroshot_ndcg@10": 0.78})
    assert not warn_if_worse({"eval_ndcg@10": 0.80})


def test_bi_encoder_weight_fuses_logit_and_cosine(minilm, tmp_path):
    """bi_encoder_weight: eval ranks by logit + w * cosine (eval_ce_* by the logit alone); the fused metrics
    are reproduced from final/'s CrossEncoder scores plus the starting model's cosines."""
    from mgtrainer.driver.metrics import ranking_metrics
    from mgtrainer.driver.pooling import score
    from mgtrainer.driver.pooling_fit import load
    from mgtrainer.tasks.rerank import bi_encoder_scores, per_query

    cfg = make_cfg(minilm, tmp_path / "out", "listwise", "full")
    cfg = cfg.model_copy(update={"task": cfg.task.model_copy(update={"bi_encoder_weight": 20.0})})
    metrics = runs.train(cfg)
    assert {"eval_ce_ndcg@10", "eval_zeroshot_ndcg@10"} <= set(metrics)
    ev = runs.load_data(cfg, tasks.get("rerank")).eval
    tok, model = load(cfg, "sequence_classification", tmp_path / "out" / "final")
    logits = per_query(score(model, tok, [r.query for r in ev for _ in r.passages], [p for r in ev for p in r.passages],
                             cfg.data.cutoff_len).tolist(), ev)
    cos = bi_encoder_scores(cfg, ev, cfg.data.cutoff_len)
    fused = [[s + 20.0 * c for s, c in zip(ss, cc)] for ss, cc in zip(logits, cos)]
    labels = [r.labels for r in ev]
    assert ranking_metrics(fused, labels)["ndcg@10"] == pytest.approx(metrics["eval_ndcg@10"], abs=1e-6)
    assert ranking_metrics(logits, labels)["ndcg@10"] == pytest.approx(metrics["eval_ce_ndcg@10"], abs=1e-6)
    # predict serves the score eval ranked by (logit + 20 x cosine); the vLLM server, which cannot, refuses
    import json

    from mgtrainer.errors import MgtError
    from mgtrainer.serve.predict import predict
    from mgtrainer.serve.vllm import ServeOptions, vllm_args

    final = tmp_path / "out" / "final"
    assert manifest.read(final).bi_encoder_weight == 20.0
    fits = [(r.query, p, x) for r, ss in zip(ev, fused) for p, x in zip(r.passages, ss)  # eval cut pairs at 96
            if len(tok(r.query, p)["input_ids"]) <= cfg.data.cutoff_len][:24]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"query": q, "passage": p}) + "\n" for q, p, _ in fits))
    predict(final, tmp_path / "in.jsonl", tmp_path / "pred.jsonl", engine="hf", progress=False)
    got = [json.loads(line)["prediction"] for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    assert len(got) == len(fits) > 10 and got == pytest.approx([x for _, _, x in fits], abs=1e-4)
    with pytest.raises(MgtError, match="bi_encoder_weight 20.0"):
        vllm_args(final, ServeOptions())
