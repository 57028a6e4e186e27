"""embed on a tiny decoder (LoRA, last-token pooling) and on MiniLM (full, mean pooling):
parameters change, final/ reloads to the same metrics, and sentence-transformers gives the same vectors."""

from pathlib import Path

import pytest
import torch

from mgtrainer.app import runs
from mgtrainer import manifest
from mgtrainer.config import load_config

WIKIQA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "wikiqa" / "wikiqa_dev_rerank.jsonl"
QI, PI = "query: ", "passage: "


def make_cfg(model, out, finetuning="full", **train):
    return load_config({
        "task": {"name": "embed", "query_instruction": QI, "passage_instruction": PI, "hard_negatives": 2},
        "model": {"name_or_path": str(model)},
        "data": {"train": [str(WIKIQA)], "max_samples": 24, "val_size": 8, "cutoff_len": 64},
        "train": {"output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 4, "learning_rate": 1e-3,
                  "logging_steps": 1, "save_steps": 100, **train},
        "lora": {"finetuning_type": finetuning, "rank": 4},
    }, [])


@pytest.fixture(scope="module", params=[("tiny_qwen2", "lora"), ("minilm", "full")], ids=["tiny_qwen2", "minilm"])
def trained(request, tmp_path_factory):
    name, finetuning = request.param
    base = request.getfixturevalue(name)
    cfg = make_cfg(base, tmp_path_factory.mktemp("embed") / name, finetuning)
    metrics = runs.train(cfg)
    return cfg, base, Path(cfg.train.output_dir) / "final", metrics


def test_outputs_and_manifest(trained):
    cfg, base, final, metrics = trained
    out = final.parent
    assert (out / "metrics.jsonl").is_file() and any((out / "plots").glob("*.png"))
    assert 0.0 <= metrics["eval_ndcg@10"] <= 1.0 and "eval_recall@5" in metrics and "eval_mrr@10" in metrics
    m = manifest.read(out)
    assert m.task == "embed" and m.head == "encoder" and m.normalize is True
    assert m.pooling == ("last" if "qwen2" in str(base) else "mean")
    assert (m.query_instruction, m.passage_instruction) == (QI, PI)


def test_parameters_change(trained):
    from transformers import AutoModel

    _, base, final, _ = trained
    before, after = AutoModel.from_pretrained(base).state_dict(), AutoModel.from_pretrained(final).state_dict()
    changed = [k for k in after if k in before and not torch.equal(before[k], after[k])]
    assert changed, "no parameter changed in training"


def test_reload_gives_same_metrics(trained):
    cfg, _, final, metrics = trained
    again = runs.evaluate(cfg, model_dir=final)
    for key in ("eval_ndcg@10", "eval_mrr@10", "eval_recall@1"):
        assert again[key] == pytest.approx(metrics[key], abs=1e-6)


def test_sentence_transformers_gives_same_vectors(trained):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    from mgtrainer.driver.pooling import encode

    cfg, _, final, _ = trained
    m = manifest.read(final)
    texts = ["how big is bmc software", "the black-and-white series originally ran from 1951 to 1957 ."]
    ours = encode(AutoModel.from_pretrained(final), AutoTokenizer.from_pretrained(final), [QI + t for t in texts],
                  m.pooling, m.normalize, max_length=cfg.data.cutoff_len)
    st = SentenceTransformer(str(final), device="cpu")
    theirs = st.encode(texts, prompt_name="query", convert_to_tensor=True)
    assert torch.allclose(ours, theirs.cpu(), atol=1e-5)
    assert torch.allclose(theirs.norm(dim=-1), torch.ones(2), atol=1e-5)
