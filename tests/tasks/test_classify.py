"""classify: tiny decoder + LoRA and MiniLM full fine-tuning; reload gives the same numbers; real snips."""

import json
from pathlib import Path

import pytest

from mgtrainer.app import runs
from mgtrainer import manifest as mf
from mgtrainer.errors import MgtError

INTENTS = Path(__file__).resolve().parents[2] / "script" / "examples" / "classify" / "data"


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(Path(path) / "model.safetensors"))


def _changed(before: dict, after: dict) -> list[str]:
    import torch

    return [k for k in before if k in after and not torch.equal(before[k], after[k])]


def test_decoder_lora_trains_saves_reloads(tiny_qwen2, make_cfg):
    cfg = make_cfg("classify", tiny_qwen2, [INTENTS / "intents_train.jsonl"], [INTENTS / "intents_eval.jsonl"],
                   lora={"finetuning_type": "lora", "rank": 4, "target": "q_proj|v_proj"},
                   train={"eval_strategy": "steps", "eval_steps": 3})
    metrics = runs.train(cfg)
    final = Path(cfg.train.output_dir) / "final"
    man = mf.read(final)
    assert man.task == "classify" and man.head == "sequence_classification" and man.finetuning_type == "lora"
    assert man.labels == sorted({json.loads(l)["label"] for l in open(INTENTS / "intents_train.jsonl")})
    assert man.adapter_dir == "adapter" and (final / "adapter" / "adapter_config.json").is_file()
    assert {"eval_accuracy", "eval_macro_f1", "eval_loss"} <= set(man.metrics)
    changed = _changed(_weights(tiny_qwen2), _weights(final))
    assert any("q_proj" in k for k in changed) and not any("mlp" in k for k in changed)
    # save -> reload: the merged final/ model gives the same eval loss as the trained in-memory model
    again = runs.evaluate(cfg, model_dir=final)
    assert again["eval_loss"] == pytest.approx(metrics["eval_loss"], rel=1e-4)
    assert len(again["confusion_matrix"]) == len(man.labels)
    report = json.loads((Path(cfg.train.output_dir) / "eval_report.json").read_text())
    assert set(report["per_class"]) == set(man.labels)
    assert (Path(cfg.train.output_dir) / "plots" / "loss.png").is_file()


def test_multi_label_and_labels_from_config(minilm, make_cfg, tmp_path):
    from transformers import AutoConfig

    rows = [{"text": f"{w} item {i}", "label": lab} for i in range(8)
            for w, lab in (("red", ["red"]), ("blue", ["blue"]), ("red blue", ["red", "blue"]))]
    data = tmp_path / "ml.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = make_cfg({"name": "classify", "multi_label": True, "labels": ["red", "blue", "green"]}, minilm,
                   [data], [data])
    metrics = runs.train(cfg)
    final = Path(cfg.train.output_dir) / "final"
    assert mf.read(final).labels == ["red", "blue", "green"] and mf.read(final).multi_label
    conf = AutoConfig.from_pretrained(final)
    assert conf.id2label == {0: "red", 1: "blue", 2: "green"} and conf.problem_type == "multi_label_classification"
    assert "eval_micro_f1" in metrics


def test_unknown_eval_label_is_a_user_error(minilm, make_cfg, tmp_path):
    train, bad = tmp_path / "t.jsonl", tmp_path / "e.jsonl"
    train.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n')
    bad.write_text('{"text": "c", "label": "x"}\n{"text": "d", "label": "zz"}\n')
    with pytest.raises(MgtError, match=r"e.jsonl:2: unknown label 'zz'"):
        runs.train(make_cfg("classify", minilm, [train], [bad]))


def _every(src: Path, k: int, dest: Path) -> Path:
    """A class-balanced subset (every k-th row; the files are grouped by label) in tmp, read from the real file."""
    dest.write_text("".join(line for i, line in enumerate(src.read_text().splitlines(True)) if i % k == 0))
    return dest


@pytest.mark.heavy
def test_minilm_on_snips_reaches_090(minilm, make_cfg, shared_data, tmp_path):
    """Real data: MiniLM, 1 epoch on every 3rd row of snips train (700), eval on every 2nd of validate (350)."""
    snips = shared_data / "snips"
    train = _every(snips / "snips_intent_train.jsonl", 3, tmp_path / "train.jsonl")
    evals = _every(snips / "snips_intent_validate.jsonl", 2, tmp_path / "eval.jsonl")
    cfg = make_cfg("classify", minilm, [train], [evals], data={"cutoff_len": 48},
                   train={"max_steps": -1, "num_train_epochs": 1, "per_device_train_batch_size": 16,
                          "learning_rate": 2e-4, "warmup_ratio": 0.1, "per_device_eval_batch_size": 64,
                          "logging_steps": 10})
    metrics = runs.train(cfg)
    print(metrics)
    assert metrics["eval_accuracy"] >= 0.9, metrics
