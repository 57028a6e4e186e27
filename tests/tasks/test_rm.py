"""rm on a tiny decoder (LoRA) and on MiniLM (full) with LLaMA-Factory's dpo demo pairs: parameters change,
final/ loads with AutoModelForSequenceClassification, its logit is the reward, metrics reproduce."""

from pathlib import Path

import pytest
import torch

from mgtrainer.app import runs
from mgtrainer import manifest
from mgtrainer.config import load_config

DPO = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "llama-factory" / "dpo_en_demo.json"


def make_cfg(model, out, finetuning, margin=0.0):
    return load_config({
        "task": {"name": "rm", "margin": margin},
        "model": {"name_or_path": str(model)},
        "data": {"train": [str(DPO)], "max_samples": 16, "val_size": 6, "cutoff_len": 96},
        "train": {"output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 4, "learning_rate": 1e-3,
                  "logging_steps": 1, "save_steps": 100},
        "lora": {"finetuning_type": finetuning, "rank": 4},
    }, [])


@pytest.fixture(scope="module", params=[("tiny_qwen2", "lora"), ("minilm", "full")], ids=["tiny_qwen2", "minilm"])
def trained(request, tmp_path_factory):
    name, finetuning = request.param
    base = request.getfixturevalue(name)
    cfg = make_cfg(base, tmp_path_factory.mktemp("rm") / name, finetuning, margin=0.5)
    metrics = runs.train(cfg)
    return cfg, base, Path(cfg.train.output_dir) / "final", metrics


def test_outputs_and_manifest(trained):
    cfg, _, final, metrics = trained
    assert (final.parent / "metrics.jsonl").is_file() and any((final.parent / "plots").glob("*.png"))
    assert 0.0 <= metrics["eval_accuracy"] <= 1.0 and "eval_margin" in metrics
    m = manifest.read(final)
    assert (m.task, m.head) == ("rm", "sequence_classification") and m.template


def test_parameters_change(trained):
    from transformers import AutoModel

    _, base, final, _ = trained
    before, after = AutoModel.from_pretrained(base).state_dict(), AutoModel.from_pretrained(final).state_dict()
    assert [k for k in after if k in before and not torch.equal(before[k], after[k])], "no parameter changed"


def test_logit_is_the_reward_and_reload_matches(trained):
    """Rewards from a plain AutoModelForSequenceClassification load reproduce the run's pairwise metrics."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from mgtrainer.data import load_splits
    from mgtrainer.driver.metrics import pair_metrics
    from mgtrainer.driver.pooling_fit import max_length
    from mgtrainer.tasks.rm import pair_ids, pair_texts

    cfg, _, final, metrics = trained
    model = AutoModelForSequenceClassification.from_pretrained(final).eval()
    tok = AutoTokenizer.from_pretrained(final)
    assert model.config.num_labels == 1 and tok.chat_template
    cut = max_length(cfg, tok, model)
    rows = [pair_ids(tok, pair_texts(tok, r), cut) for r in load_splits(cfg.data, "preference").eval]

    def reward(ids):
        with torch.no_grad():
            return model(input_ids=torch.tensor([ids])).logits[0, 0]

    chosen = torch.stack([reward(r["chosen"]) for r in rows])
    rejected = torch.stack([reward(r["rejected"]) for r in rows])
    got = pair_metrics(chosen, rejected)
    assert got["accuracy"] == pytest.approx(metrics["eval_accuracy"], abs=1e-6)
    assert got["margin"] == pytest.approx(metrics["eval_margin"], abs=1e-4)
    assert runs.evaluate(cfg, model_dir=final)["eval_margin"] == pytest.approx(metrics["eval_margin"], abs=1e-5)


def test_pair_ids_keep_both_answers_apart(minilm):
    """Long shared prompts lose their start, answers keep their opening: the two sides stay different."""
    from transformers import AutoTokenizer

    from mgtrainer.tasks.rm import pair_ids

    tok = AutoTokenizer.from_pretrained(minilm)
    prompt = "User: " + "background words " * 200 + "\nAssistant: "
    ids = pair_ids(tok, {"chosen": prompt + "yes it is blue " * 50, "rejected": prompt + "sure happy to help " * 50}, 64)
    assert len(ids["chosen"]) == len(ids["rejected"]) == 64 and ids["chosen"] != ids["rejected"]
    assert ids["chosen"][0] == tok.cls_token_id and ids["chosen"][-1] == tok.sep_token_id
    assert tok.decode(ids["chosen"][1:-1]).split("assistant :")[1].split()[:3] == ["yes", "it", "is"]
