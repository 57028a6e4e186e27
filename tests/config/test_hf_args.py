"""Any transformers TrainingArguments field in a config (issue 26): a name mgtrainer has no field or alias for
lands in train.hf_args with its kind checked at load time, and reaches TrainingArguments (and LLaMA-Factory's
args) as it is. The shipped table (config/hf_args.py) is checked against the installed transformers."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import typing

import pytest

from mgtrainer.config import hf_args, load_config
from mgtrainer.errors import MgtError


def kind_of(annotation) -> str:
    """The table's kind for a TrainingArguments annotation (the rule the table was written with)."""
    text = str(annotation)
    optional = "?" if "None" in text else ""
    for word in ("dict", "list"):
        if word in text:
            return word + optional
    if "bool" in text and "str" not in text:
        kind = "bool"
    elif "float" in text:
        kind = "float"
    elif "int" in text and "Strategy" not in text:
        kind = "int"
    elif any(w in text for w in ("str", "Strategy", "Names", "Type")):
        kind = "str"
    else:
        kind = "any"
    return kind + optional


def test_the_table_is_the_installed_transformers_training_arguments():
    from transformers import TrainingArguments

    hints = typing.get_type_hints(TrainingArguments)
    installed = {f.name: kind_of(hints[f.name]) for f in dataclasses.fields(TrainingArguments) if f.init}
    assert hf_args.KINDS == installed  # a moved lock: rewrite config/hf_args.py's TABLE from the dataclass


def test_names_users_bring_land_in_hf_args_with_their_kinds():
    cfg = load_config({"task": "sft", "model": "m", "data": {"train": ["d.jsonl"]},
                       "adam_beta1": 0.8, "adam_epsilon": "1e-7", "tf32": "false",
                       "train": {"torch_compile": True, "lr_scheduler_kwargs": {"min_lr": 1e-5}},
                       "neftune_noise_alpha": 5}, ["train.adam_beta2=0.95"])
    assert cfg.train.hf_args == {"adam_beta1": 0.8, "adam_epsilon": 1e-7, "tf32": False, "torch_compile": True,
                                 "lr_scheduler_kwargs": {"min_lr": 1e-5}, "neftune_noise_alpha": 5.0,
                                 "adam_beta2": 0.95}
    assert cfg.train.learning_rate == 5e-5  # own fields stay fields


@pytest.mark.parametrize(("override", "said"), [
    ("adam_beta1=abc", "override 'adam_beta1=abc': adam_beta1: 'abc' is not a float; expected a float "
                       "(TrainingArguments.adam_beta1)"),
    ("torch_compile=maybe", "torch_compile: 'maybe' is not a bool; expected a bool"),
    ("local_rank=1", "'local_rank' is not taken: the launcher sets it"),
    ("train.label_names=[a]", "'label_names' is not taken: each task's collator names its labels"),
    ("adam_betta1=0.9", "unknown key 'adam_betta1' (did you mean 'adam_beta1'?)"),
    ("train.hf_args={learning_rate: 0.1}", "'learning_rate' is train.learning_rate; expected it there"),
])
def test_a_wrong_name_or_kind_is_one_line(override, said):
    with pytest.raises(MgtError) as err:
        load_config({"task": "sft", "model": "m", "data": {"train": ["d.jsonl"]}}, [override])
    assert said in str(err.value) and "\n" not in str(err.value)


def test_they_reach_training_arguments_and_llamafactory(tmp_path):
    from mgtrainer.backends import lf_config
    from mgtrainer.driver.trainer import training_args

    cfg = load_config({"task": "sft", "model": "m", "data": {"train": ["d.jsonl"]},
                       "train": {"output_dir": str(tmp_path / "out")}, "adam_beta2": 0.95,
                       "lr_scheduler_type": "cosine_with_min_lr", "lr_scheduler_kwargs": {"min_lr": 1e-5}}, [])
    args = training_args(cfg)
    assert (args.adam_beta2, args.lr_scheduler_kwargs) == (0.95, {"min_lr": 1e-5})
    lf, _ = lf_config.to_lf_args(cfg, tmp_path / "d", "t", None)
    assert (lf["adam_beta2"], lf["lr_scheduler_kwargs"]) == (0.95, {"min_lr": 1e-5})


def test_a_run_follows_them(tiny_qwen2, shared_data, make_cfg):
    """cosine_with_min_lr with lr_scheduler_kwargs.min_lr: the logged rates follow min + (max - min) * (1 + cos)
    / 2 (step 4 of 4: 3.17e-4; plain cosine without the minimum would log 1.46e-4)."""
    cfg = make_cfg("sft", tiny_qwen2, [shared_data / "llama-factory" / "alpaca_en_demo.json"],
                   overrides=["lr_scheduler_type=cosine_with_min_lr", "lr_scheduler_kwargs={min_lr: 2.0e-4}",
                              "adam_beta2=0.9", "train.max_steps=4", "data.max_samples=16"])
    from mgtrainer.app import runs

    runs.train(cfg)
    rows = [json.loads(line) for line in open(f"{cfg.train.output_dir}/metrics.jsonl")]
    rates = [r["learning_rate"] for r in rows if "learning_rate" in r]
    assert rates == pytest.approx([1e-3, 8.828e-4, 6e-4, 3.172e-4], rel=1e-3), rates


def test_trl_packing_in_an_sft_config_is_padding_free_and_stays_pt_packing_in_pt():
    cfg = load_config({"task": "sft", "model": "m", "data": {"train": ["d.jsonl"]}, "packing": True}, [])
    assert cfg.train.padding_free is True and "'packing' read as train.padding_free" in " ".join(cfg.notes)
    pt = load_config({"task": "pt", "model": "m", "data": {"train": ["d.txt"]}, "packing": False}, [])
    assert pt.task.packing is False and pt.train.padding_free is False
    with pytest.raises(MgtError, match="'packing' is a setting of task pt, not of task 'dpo'"):
        load_config({"task": "dpo", "model": "m", "data": {"train": ["d.jsonl"]}, "packing": True}, [])


def test_a_tracker_not_installed_is_one_line_before_the_trainer_is_built(tmp_path):
    """report_to: a tracker not in the env's lock (clearml) passed the config and failed inside the Trainer's set-up;
    wandb and mlflow are in the train env (tests/driver/test_tensorboard.py)."""
    from mgtrainer.driver.trainer import training_args

    def args(tracker):
        return training_args(load_config({"task": "sft", "model": "m", "data": {"train": ["d.jsonl"]},
                                          "train": {"output_dir": str(tmp_path), "report_to": tracker}}, []))

    with pytest.raises(MgtError, match=r"^train.report_to: 'clearml' is not installed in this env \(installed: "):
        args("clearml")
    with pytest.raises(MgtError, match="'wandbb' is not a tracker transformers knows; expected some of"):
        args("wandbb")
    assert args("tensorboard").report_to == ["tensorboard"] and args("none").report_to == []


def test_the_seed_toolkits_names_load():
    """MiniCPM's finetune.py (use_lora, model_max_length, qlora: QLoRA) and MDL-Toolkit's train (lr, batch_size,
    train_dataset, eval_dataset, output) as their users write them in a YAML or as key=value."""
    cfg = load_config({"task": "sft", "model": "m", "use_lora": False, "model_max_length": 256, "qlora": False,
                       "train_dataset": "a.jsonl", "eval_dataset": "b.jsonl"},
                      ["lr=2e-4", "batch_size=4", "output=outputs/x"])
    assert (cfg.lora.finetuning_type, cfg.data.cutoff_len, cfg.data.train, cfg.data.eval) == \
        ("full", 256, ["a.jsonl"], ["b.jsonl"])
    assert (cfg.train.learning_rate, cfg.train.per_device_train_batch_size, cfg.train.output_dir) == \
        (2e-4, 4, "outputs/x")
    qlora = load_config({"task": "sft", "model": "m", "data": {"train": ["a.jsonl"]}, "qlora": True}, [])
    assert qlora.model.quantization_bit == 4  # MiniCPM's QLoRA: 4-bit nf4 base weights, double quantization


def test_mdl_toolkits_train_command_runs_with_the_program_name_changed(tmp_path):
    """MDL-Toolkit's `train --base-dir M --train-dataset D --lr X --lora-rank R --batch-size B --output O` (no
    config file): each option not of `mgtrainer train` is the override of its name; a flag alone is true."""
    from mgtrainer.app.runs import load_run
    from mgtrainer.cli import build_parser, dashed_overrides, parse

    argv = ["train", "--task", "sft", "--base-dir", "m", "--train-dataset", "a.jsonl", "--eval-dataset=b.jsonl",
            "--lr", "2e-4", "--lora-rank", "16", "--batch-size", "4", "--output", str(tmp_path / "o"),
            "--gradient-checkpointing", "--nproc-per-node", "2", "train.max_steps=3"]
    args = parse(argv)[1]
    assert args.config is None and args.nproc_per_node == 2  # mgtrainer's own options stay options
    cfg = load_run(args.config, args.overrides, notes=False)
    assert (cfg.model.name_or_path, cfg.data.train, cfg.data.eval, cfg.train.learning_rate, cfg.lora.rank,
            cfg.train.per_device_train_batch_size, cfg.train.output_dir, cfg.train.gradient_checkpointing,
            cfg.train.max_steps) == ("m", ["a.jsonl"], ["b.jsonl"], 2e-4, 16, 4, str(tmp_path / "o"), True, 3)
    with pytest.raises(MgtError, match="unknown key 'lora_rnak'"):
        load_run(None, dashed_overrides(build_parser(), ["train", "--task", "sft", "--lora-rnak", "8"])[1:])


def test_the_attention_kernel_is_asked_for_by_either_name_and_a_missing_one_is_one_line(tiny_qwen2):
    """model.attn_implementation (transformers) = LLaMA-Factory's flash_attn (fa2 -> flash_attention_2, disabled ->
    eager, auto -> transformers' choice); documented before as picked automatically, when nothing picked it."""
    from mgtrainer.driver.model import load_model

    def cfg(**flat):
        return load_config({"task": "sft", "model": str(tiny_qwen2), "data": {"train": ["d.jsonl"]}, **flat}, [])

    assert cfg(flash_attn="fa2").model.attn_implementation == "flash_attention_2"
    assert cfg(flash_attn="auto").model.attn_implementation is None
    assert load_model(cfg(flash_attn="disabled").model, "causal_lm").config._attn_implementation == "eager"
    assert load_model(cfg(attn_implementation="sdpa").model, "causal_lm").config._attn_implementation == "sdpa"
    with pytest.raises(MgtError, match="flash_attn.*expected one of auto, disabled"):
        cfg(flash_attn="fa9")
    if importlib.util.find_spec("flash_attn"):
        return  # a machine with FlashAttention: the kernel loads
    with pytest.raises(MgtError, match=r"^model.attn_implementation: flash_attention_2 cannot run here \(.*\); "
                                       "expected sdpa or eager on this machine, or unset$"):
        load_model(cfg(flash_attn="fa2").model, "causal_lm")


def test_llamafactory_gets_the_kernel_by_its_own_name(tmp_path):
    from mgtrainer.backends import lf_config

    cfg = load_config({"task": "sft", "model": "m", "data": {"train": ["d.jsonl"]}, "flash_attn": "disabled",
                       "train": {"output_dir": str(tmp_path / "o")}}, [])
    args, _ = lf_config.to_lf_args(cfg, tmp_path / "d", "t", None)
    assert args["flash_attn"] == "disabled"


def test_liger_is_refused_where_it_cannot_run(tmp_path):
    """LLaMA-Factory's enable_liger_kernel = TrainingArguments' use_liger_kernel: taken (it was a note that it did
    nothing), and on a machine without a GPU one line before the Trainer is built (Liger's kernels are Triton)."""
    import torch

    from mgtrainer.driver.trainer import training_args

    base = {"task": "sft", "model": "m", "data": {"train": ["d.jsonl"]}, "output_dir": str(tmp_path)}
    cfg = load_config({**base, "enable_liger_kernel": True})
    assert cfg.train.hf_args == {"use_liger_kernel": True} and cfg.notes == []
    if not torch.cuda.is_available():
        with pytest.raises(MgtError, match="Liger's kernels are Triton kernels, which need a GPU"):
            training_args(cfg)
    assert training_args(load_config({**base, "enable_liger_kernel": False})).use_liger_kernel is False
