"""A few real-model steps of the preference and RL stages on SmolLM2-135M-Instruct (the dates skill): dpo and
grpo train LoRA adapters through the real chat template, log finite rewards and save a final/ that reloads.
Quality before/after is measured in bench/ (references/quality.md), not here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mgtrainer.app import runs
from mgtrainer.config import load_config

pytestmark = pytest.mark.heavy
DATES = Path(__file__).resolve().parents[2] / "script" / "examples" / "real" / "data"


def cfg(task: dict, model: Path, train: Path, out: Path, steps: int, eval_file: Path | None = None, **extra):
    return load_config({
        "task": task, "model": {"name_or_path": str(model)},
        "data": {"train": [str(train)], "eval": [str(eval_file)] if eval_file else [], "cutoff_len": 96,
                 "max_samples": 48},
        "train": {"output_dir": str(out), "max_steps": steps, "per_device_train_batch_size": 4, "logging_steps": 1,
                  "eval_strategy": "steps" if eval_file else "no", "eval_steps": steps, "save_steps": 1000,
                  "learning_rate": 1e-3, "preview_samples": 0, **extra},
        "lora": {"finetuning_type": "lora", "rank": 8, "target": "all-linear"},
        "eval": {"generation_samples": 0},
    }, [])


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_dpo_on_the_real_model(smollm2, tmp_path):
    held = tmp_path / "held.jsonl"  # 16 held-out pairs: the eval is a forward pass per pair and its reference
    held.write_text("".join((DATES / "dates_dpo_heldout.jsonl").read_text().splitlines(keepends=True)[:16]))
    c = cfg({"name": "dpo", "beta": 0.1}, smollm2, DATES / "dates_dpo.jsonl", tmp_path / "dpo", 3, held,
            per_device_eval_batch_size=8, eval_on_start=False)
    c = c.model_copy(update={"data": c.data.model_copy(update={"max_samples": 16})})
    runs.train(c)
    rows = metrics(tmp_path / "dpo")
    assert all(math.isfinite(r["loss"]) for r in rows if "loss" in r)
    last = [r for r in rows if "eval_rewards/accuracies" in r][-1]
    assert math.isfinite(last["eval_rewards/margins"]) and 0 <= last["eval_rewards/accuracies"] <= 1
    assert (tmp_path / "dpo" / "final" / "mgtrainer.json").is_file()


def test_grpo_on_the_real_model(smollm2, tmp_path):
    task = {"name": "grpo", "reward_funcs": [{"function": "mgtrainer.rewards:token_f1"}], "num_generations": 4,
            "max_completion_length": 10}
    runs.train(cfg(task, smollm2, DATES / "dates_grpo.jsonl", tmp_path / "grpo", 2))
    rows = [r for r in metrics(tmp_path / "grpo") if "reward" in r]
    assert len(rows) == 2 and all(0 <= r["reward"] <= 1 for r in rows)
    assert any(r["reward"] > 0 for r in rows)  # the base model already writes the year: token_f1 has a gradient
    assert (tmp_path / "grpo" / "final" / "mgtrainer.json").is_file()
