"""Sharded training through the engines transformers already drives: DeepSpeed ZeRO and FSDP.

    deepspeed_config(value) -> dict | None   a preset name (zero2, zero3, zero3-offload), a JSON path or a dict
    fsdp_config(value) -> dict | None        a dict or a JSON path
    sharding_args(train_cfg) -> dict         the TrainingArguments keys (deepspeed, fsdp, fsdp_config, ddp_*)

Light: standard library only, so the config layer can check values at load time.
"""

from __future__ import annotations

import json
from pathlib import Path

PRESETS = Path(__file__).with_name("ds_presets")


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS.glob("*.json"))


def _json_file(value: str, field: str) -> dict:
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"{value!r} is neither a preset ({', '.join(preset_names())}) nor a JSON file"
                         if field == "deepspeed" else f"{value!r} is not a JSON file")
    try:
        data = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{value}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{value}: expected a JSON object, got {type(data).__name__}")
    return data


def deepspeed_config(value) -> dict | None:
    """The DeepSpeed config dict for train.deepspeed (ValueError naming what would be valid)."""
    if value is None or isinstance(value, dict):
        return value
    if (PRESETS / f"{value}.json").is_file():
        return json.loads((PRESETS / f"{value}.json").read_text())
    data = _json_file(value, "deepspeed")
    if "zero_optimization" in data and not isinstance(data["zero_optimization"], dict):
        raise ValueError(f"{value}: zero_optimization must be an object")
    return data


def fsdp_config(value) -> dict | None:
    if value is None or isinstance(value, dict):
        return value
    return _json_file(value, "fsdp_config")


FSDP_ON_CPU = ("train.fsdp needs a GPU: accelerate 1.15 turns FSDP on only for GPU-class devices (its "
               "MULTI_CPU processes would train as plain DDP, ignoring fsdp); expected train.fsdp unset on CPU, "
               "or train.deepspeed: zero3 (DeepSpeed shards on CPU with gloo)")


def sharding_args(t, accelerator: bool = True) -> dict:
    """TrainingArguments keys for distributed training from cfg.train (MgtError for FSDP without a GPU)."""
    from mgtrainer.errors import MgtError

    if t.fsdp and not accelerator:
        raise MgtError(FSDP_ON_CPU)
    out = {"ddp_timeout": t.ddp_timeout}
    if t.ddp_find_unused_parameters is not None:
        out["ddp_find_unused_parameters"] = t.ddp_find_unused_parameters
    if t.fsdp:
        out["fsdp"] = t.fsdp
        out["fsdp_config"] = fsdp_config(t.fsdp_config) or {}
    if t.deepspeed is not None:
        out["deepspeed"] = deepspeed_config(t.deepspeed)
        single_process_group()
    return out


def single_process_group() -> None:
    """DeepSpeed in a plain `mgtrainer train` (no torchrun): a process group of one, as torchrun would describe
    it, so DeepSpeed does not look for MPI (mpi4py) to find its peers, as LLaMA-Factory's CLI launches alone too."""
    import os

    from mgtrainer.ports import free_port

    if "RANK" in os.environ or "WORLD_SIZE" in os.environ:
        return  # torchrun (or the user) set the group up
    os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": os.environ.get("MASTER_PORT") or str(free_port())})
