"""Sharding settings: ddp_*/fsdp/deepspeed reach TrainingArguments, presets and files are checked at load,
FSDP without a GPU is refused (accelerate would train plain DDP), DeepSpeed ZeRO-3 runs on CPU with gloo
and its final/ is gathered whole (merged LoRA, loadable by AutoModel)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mgtrainer.config import load_config
from mgtrainer.errors import MgtError

REPO = Path(__file__).resolve().parents[2]
BASE = {"task": "sft", "model": "m", "data": {"train": ["x.jsonl"]}}


def test_presets_files_and_refusals(tmp_path):
    cfg = load_config({**BASE, "deepspeed": "zero3-offload", "ddp_timeout": 60, "ddp_find_unused_parameters": False})
    assert cfg.train.deepspeed == "zero3-offload" and cfg.train.ddp_timeout == 60
    assert cfg.train.ddp_find_unused_parameters is False
    ds = tmp_path / "ds.json"
    ds.write_text(json.dumps({"zero_optimization": {"stage": 2}}))
    assert load_config({**BASE, "train": {"deepspeed": str(ds)}}).train.deepspeed == str(ds)
    ds.write_text("[1]")
    with pytest.raises(MgtError, match="expected a JSON object, got list"):
        load_config({**BASE, "train": {"deepspeed": str(ds)}})
    with pytest.raises(MgtError, match="deepspeed and fsdp are both set"):
        load_config({**BASE, "train": {"deepspeed": "zero2", "fsdp": "full_shard"}})
    assert load_config({**BASE, "tokenized_path": "cache"}).data.packed == "cache"  # LLaMA-Factory's name


def test_deepspeed_without_a_launcher_is_a_process_group_of_one(monkeypatch):
    """`mgtrainer train` of a config with deepspeed and no torchrun (LLaMA-Factory's full-sft example, as its CLI
    runs it on one device): the group of one is described as torchrun would, so DeepSpeed does not look for MPI
    (it stopped with `No module named 'mpi4py'`); a launcher's own settings are left alone."""
    import os

    from mgtrainer.driver.shard import single_process_group

    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(key, "x")
        monkeypatch.delenv(key)
    single_process_group()
    assert (os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["MASTER_ADDR"]) == ("0", "1", "127.0.0.1")
    assert int(os.environ["MASTER_PORT"]) > 0
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    single_process_group()
    assert (os.environ["RANK"], os.environ["WORLD_SIZE"]) == ("3", "4")


def test_training_arguments_carry_the_settings(tmp_path):
    from mgtrainer.driver import shard, trainer

    cfg = load_config({**BASE, "train": {"output_dir": str(tmp_path), "ddp_timeout": 77,
                                         "ddp_find_unused_parameters": True}})
    args = trainer.training_args(cfg)
    assert args.ddp_timeout == 77 and args.ddp_find_unused_parameters is True
    zero3 = shard.sharding_args(load_config({**BASE, "deepspeed": "zero3"}).train)["deepspeed"]
    assert zero3["zero_optimization"]["stage"] == 3
    assert zero3["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    fsdp = load_config({**BASE, "train": {"output_dir": str(tmp_path), "fsdp": "full_shard auto_wrap"}})
    if not trainer.has_accelerator():
        with pytest.raises(MgtError, match="train.fsdp needs a GPU"):
            trainer.training_args(fsdp)


def losses(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


@pytest.mark.heavy
def test_zero3_on_cpu_matches_ddp_and_saves_the_whole_trained_model(tiny_qwen2, shared_data, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    runs = {}
    for name, extra in (("ddp", {}), ("zero3", {"deepspeed": "zero3"})):
        out = tmp_path / name
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(json.dumps({
            "task": "sft", "model": {"name_or_path": str(tiny_qwen2)},
            "data": {"train": [str(shared_data / "llama-factory" / "alpaca_en_demo.json")], "max_samples": 24,
                     "cutoff_len": 64},
            "train": {"output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 2,
                      "logging_steps": 1, "preview_samples": 0, "learning_rate": 1e-3, **extra},
            "lora": {"finetuning_type": "lora", "rank": 4, "dropout": 0.0}}))
        proc = subprocess.run([sys.executable, "-m", "mgtrainer", "train", str(cfg), "--nproc-per-node", "2"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[name] = losses(out)
    assert runs["zero3"] == pytest.approx(runs["ddp"], rel=2e-3), runs
    final = tmp_path / "zero3" / "final"
    assert (final / "adapter").is_dir()  # merged LoRA, adapter kept
    model = AutoModelForCausalLM.from_pretrained(final)
    base = AutoModelForCausalLM.from_pretrained(tiny_qwen2)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in base.parameters())
    # the gathered save is the whole trained model: its logits are the ddp run's, not the base's (a final/ like
    # any other, which the vLLM tests serve; serving it here cost ~40 s of CI for no other path)
    ddp = AutoModelForCausalLM.from_pretrained(tmp_path / "ddp" / "final")
    ids = torch.arange(3, 19).unsqueeze(0)
    with torch.no_grad():
        zero3_logits, ddp_logits, base_logits = (m(ids).logits for m in (model, ddp, base))
    assert torch.allclose(zero3_logits, ddp_logits, atol=1e-3)
    assert not torch.allclose(zero3_logits, base_logits, atol=1e-3)
