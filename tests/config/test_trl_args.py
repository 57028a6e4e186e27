"""TRL's own config fields (config/trl_args.py): a dpo/orpo/kto/grpo config may carry any field of the task's TRL
config (DPOConfig, KTOConfig, GRPOConfig) beyond TrainingArguments, flat or under train:, and the TRL config the
trainer is built with has it; a field of another task's TRL config, or one mgtrainer steers itself, is one line."""

from __future__ import annotations

import dataclasses

import pytest

from mgtrainer.config import load_config, trl_args
from mgtrainer.errors import MgtError

BASE = {"model": "m", "data": {"train": ["x.jsonl"]}}


def test_the_tables_are_the_installed_trls():
    import transformers
    import trl

    theirs = {f.name for f in dataclasses.fields(transformers.TrainingArguments)}
    for cls, names in trl_args.FIELDS.items():
        installed = {f.name for f in dataclasses.fields(getattr(trl, cls)) if f.init and f.name not in theirs}
        assert names == installed, (cls, sorted(names ^ installed))


def test_grpo_fields_reach_the_grpo_config(tmp_path):
    from mgtrainer.driver.trainer import training_args
    from mgtrainer.tasks.grpo import grpo_config

    cfg = load_config({**BASE, "task": {"name": "grpo", "reward_funcs": ["mgtrainer.rewards:exact_number"]},
                       "num_iterations": 2, "epsilon_high": 0.28, "train": {"output_dir": str(tmp_path),
                                                                            "top_p": 0.9}}, ["scale_rewards=batch"])
    assert cfg.train.trl_args == {"num_iterations": 2, "epsilon_high": 0.28, "top_p": 0.9, "scale_rewards": "batch"}
    args = grpo_config(cfg, training_args(cfg))
    assert (args.num_iterations, args.epsilon_high, args.top_p, args.scale_rewards) == (2, 0.28, 0.9, "batch")
    assert args.num_generations == cfg.task.num_generations  # the task's own knobs stay


@pytest.mark.parametrize("task", ["dpo", "kto"])
def test_preference_fields_reach_the_dpo_and_kto_configs(task, tmp_path):
    from mgtrainer.driver.preference import trl_args as preference_args
    from mgtrainer.driver.trainer import training_args
    from mgtrainer.tasks import get

    extra = {"dpo": {"label_smoothing": 0.1, "ld_alpha": 0.5}, "kto": {"ref_model_sync_steps": 7}}[task]
    cfg = load_config({**BASE, "task": task, "output_dir": str(tmp_path), **extra})
    cls, fields = preference_args(cfg, get(task).spec(cfg))
    args = training_args(cfg, args_cls=cls, **fields)
    assert all(getattr(args, k) == v for k, v in extra.items()), extra


@pytest.mark.parametrize("given, said", [
    ({"task": "sft", "label_smoothing": 0.1}, "'label_smoothing' is a setting of TRL's DPOConfig (task dpo, orpo), "
                                             "not of task 'sft'"),
    ({"task": "dpo", "num_iterations": 2}, "'num_iterations' is a setting of TRL's GRPOConfig (task grpo), not of "
                                          "task 'dpo'"),
    ({"task": "dpo", "truncation_mode": "keep_end"}, "'truncation_mode' is not taken: mgtrainer encodes the rows"),
    ({"task": {"name": "grpo", "reward_funcs": ["mgtrainer.rewards:exact_number"]}, "vllm_mode": "server"},
     "'vllm_mode' is not taken"),
    ({"task": "dpo", "train": {"trl_args": {"num_iterations": 2}}}, "train.trl_args: 'num_iterations' is not a "
                                                                    "field of TRL's DPOConfig (task dpo)"),
    ({"task": "sft", "dpo_label_smoothing": 0.1}, "train.trl_args: 'label_smoothing' is a field of TRL's DPOConfig, "
                                                  "but task sft does not train with a TRL trainer"),
    ({"task": "dpo", "backend": "llamafactory", "label_smoothing": 0.1}, "but backend is llamafactory"),
])
def test_refusals_are_one_line(given, said):
    with pytest.raises(MgtError) as err:
        load_config({**BASE, **given})
    assert said in str(err.value) and "\n" not in str(err.value)
