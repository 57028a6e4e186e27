"""lora.adapter_name_or_path: a LoRA run continued from its own adapter starts where it ended (step-0 eval loss of
the second run = the last eval loss of the first) and trains the same adapter on; the adapter is refused on
another base model, named, whether it carries mgtrainer's base record or only its shapes; full fine-tuning merges
it first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mgtrainer.errors import MgtError

REPO = Path(__file__).resolve().parents[2]
DATES = REPO / "script/examples/real/data"


def _cfg(model: Path, out: Path, **lora) -> dict:
    return {"task": "sft", "model": {"name_or_path": str(model)},
            "data": {"train": [str(DATES / "dates_sft.jsonl")], "eval": [str(DATES / "dates_heldout.jsonl")],
                     "max_samples": 64, "cutoff_len": 96},
            "train": {"output_dir": str(out), "max_steps": 4, "per_device_train_batch_size": 8,
                      "per_device_eval_batch_size": 16, "logging_steps": 1, "eval_strategy": "steps",
                      "eval_steps": 4, "save_strategy": "no", "learning_rate": 5e-3, "preview_samples": 0,
                      "report_to": "none", "seed": 0},
            "eval": {"generation_samples": 0},
            "lora": {"finetuning_type": "lora", "rank": 4, **lora}}


def _misfit(folder: Path) -> None:
    """The adapter names a base that is not here, and its first q_proj lora_A has 48 inputs."""
    from safetensors.torch import load_file, save_file

    conf = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps(conf | {"base_model_name_or_path": "/nowhere/base"}))
    weights = load_file(folder / "adapter_model.safetensors")
    key = next(k for k in sorted(weights) if "q_proj.lora_A" in k)
    weights[key] = weights[key][:, :48].contiguous()
    save_file(weights, folder / "adapter_model.safetensors")


def _evals(out: Path) -> list[float]:
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["eval_loss"] for r in rows if "eval_loss" in r]


@pytest.fixture(scope="module")
def first(tiny_qwen2, tmp_path_factory) -> Path:
    from mgtrainer.app.runs import train

    out = tmp_path_factory.mktemp("adapter") / "first"
    train(_cfg(tiny_qwen2, out))
    return out


def test_a_run_continues_from_its_own_adapter(first, tiny_qwen2, tmp_path, capsys):
    from mgtrainer.app.runs import train

    adapter = first / "final" / "adapter"
    assert json.loads((adapter / "mgtrainer-base.json").read_text())["fingerprint"]["config.json"]
    out = tmp_path / "second"
    train(_cfg(tiny_qwen2, out, adapter_name_or_path=str(first), rank=16))
    said = capsys.readouterr().out
    assert "continuing the adapter in" in said and "r=4" in said  # the adapter's rank, not lora.rank
    before, after = _evals(first), _evals(out)
    assert after[0] == pytest.approx(before[-1], rel=1e-4)  # it starts where the first run ended
    assert after[-1] < after[0]  # and goes on learning
    conf = json.loads((out / "final" / "adapter" / "adapter_config.json").read_text())
    assert conf["r"] == 4


def test_another_base_is_refused_by_its_record_or_by_its_shapes(first, tiny_qwen2, tiny_llama, tmp_path):
    from mgtrainer.app.runs import train

    with pytest.raises(MgtError, match=r"the adapter was trained on .*tiny.*, which differs from the base "
                                       r".* in config.json"):
        train(_cfg(tiny_llama, tmp_path / "other", adapter_name_or_path=str(first / "final")))
    foreign = tmp_path / "foreign"  # as LLaMA-Factory or PEFT write it: no base record; the base it names
    shutil.copytree(first / "final" / "adapter", foreign)
    (foreign / "mgtrainer-base.json").unlink()
    with pytest.raises(MgtError, match=r"foreign: the adapter was trained on .*, which differs from the "
                                       r"base .* in config.json"):
        train(_cfg(tiny_llama, tmp_path / "other2", adapter_name_or_path=str(foreign)))
    _misfit(foreign)  # its base is not here, and one of its matrices fits no module of this base
    with pytest.raises(MgtError, match=r"foreign: .*q_proj.lora_A.weight is \[4, 48\], which does not fit "
                                       r".*q_proj \(\d+ -> \d+\) of this run's base"):
        train(_cfg(tiny_llama, tmp_path / "other4", adapter_name_or_path=str(foreign)))
    with pytest.raises(MgtError, match=r"no adapter here \(lora.adapter_name_or_path\)"):
        train(_cfg(tiny_qwen2, tmp_path / "other3", adapter_name_or_path=str(tmp_path)))


def test_full_finetuning_merges_the_adapter_first(first, tiny_qwen2, tmp_path, capsys):
    from mgtrainer.app.runs import train

    cfg = _cfg(tiny_qwen2, tmp_path / "full", adapter_name_or_path=str(first / "final" / "adapter"))
    cfg["lora"]["finetuning_type"] = "full"
    cfg["train"]["learning_rate"] = 1e-4
    train(cfg)
    assert "merged into the base before full training" in capsys.readouterr().out
    assert _evals(tmp_path / "full")[0] == pytest.approx(_evals(first)[-1], rel=1e-4)
