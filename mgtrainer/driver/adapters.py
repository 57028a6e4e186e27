"""Continuing from an adapter trained before (lora.adapter_name_or_path, LLaMA-Factory's key): ours (a run's
output, its final/ or final/adapter/), LLaMA-Factory's or any PEFT adapter folder.

The adapter must belong to the base model: mgtrainer writes the base's fingerprint beside every adapter it saves
(mgtrainer-base.json: config.json's sha256, the weight files' sizes) and a different base is refused naming
what differs. An adapter without one (LLaMA-Factory's, PEFT's) is compared with the base its adapter_config.json
names when that folder is here, and checked by its shapes: a module it adapts that the base lacks, or a LoRA
matrix whose size does not fit, is refused by name. finetuning_type lora trains
the adapter on (its rank, alpha and targets, not lora.*); full and freeze merge it into the base first, as
LLaMA-Factory does.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mgtrainer.errors import MgtError

BASE_FILE = "mgtrainer-base.json"
WEIGHTS = (".safetensors", ".bin")


def fingerprint(base: str | Path) -> dict:
    """The base model's identity: config.json's sha256 and each weight file's size ({} for a hub name)."""
    folder = Path(base)
    if not (folder / "config.json").is_file():
        return {}
    out = {"config.json": hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()}
    out |= {f.name: f.stat().st_size for f in sorted(folder.iterdir()) if f.name.endswith(WEIGHTS)}
    return out


def write_base(adapter: Path, base: str, path: str) -> None:
    """Record beside an adapter the base it was trained on: its name and the fingerprint of its folder `path`."""
    (adapter / BASE_FILE).write_text(json.dumps({"base_model": base, "fingerprint": fingerprint(path)}, indent=1)
                                     + "\n")


def adapter_folder(given: str | Path, key: str = "lora.adapter_name_or_path") -> Path:
    """The PEFT folder in `given`: itself, or a run's final/adapter, final/ (merge: false) or adapter/; `key`
    names what gave it in the error."""
    root = Path(given)
    for folder in (root, root / "adapter", root / "final" / "adapter", root / "final"):
        if (folder / "adapter_config.json").is_file():
            return folder
    raise MgtError(f"{given}: no adapter here ({key}); expected a PEFT adapter folder "
                   "(adapter_config.json) or a LoRA run's output folder")


def check_base(folder: Path, base_path: str, key: str = "lora.adapter_name_or_path") -> None:
    """Refuse an adapter whose base differs from this run's, naming the difference: the base mgtrainer recorded,
    else the folder adapter_config.json names when it is here."""
    record = folder / BASE_FILE
    if record.is_file():
        said = json.loads(record.read_text())
        theirs = said.get("fingerprint", {})
    else:
        named = json.loads((folder / "adapter_config.json").read_text()).get("base_model_name_or_path") or ""
        said, theirs = {"base_model": named}, fingerprint(named) if named and Path(named).is_dir() else {}
    ours = fingerprint(base_path)
    if not theirs or not ours or theirs == ours:
        return
    diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    raise MgtError(f"{folder}: the adapter was trained on {said.get('base_model')}, which differs from the "
                   f"base {base_path} in {', '.join(diff)} ({key}); expected the same base model as the adapter's")


def check_shapes(model, folder: Path) -> None:
    """An adapter without a recorded base: each LoRA matrix must fit the module it adapts."""
    from safetensors import safe_open

    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        return
    modules = dict(model.named_modules())
    with safe_open(str(weights), "numpy") as fh:  # shapes only
        for key in fh.keys():
            if ".lora_A." not in key and ".lora_B." not in key:
                continue
            name = key.split(".lora_")[0].removeprefix("base_model.model.")
            module = modules.get(name)
            shape = list(fh.get_slice(key).get_shape())
            if module is None or not hasattr(module, "in_features"):
                raise MgtError(f"{folder}: the adapter adapts {name}, which this run's base has not "
                               "(lora.adapter_name_or_path); expected an adapter trained on this base model")
            want = module.in_features if ".lora_A." in key else module.out_features
            got = shape[1] if ".lora_A." in key else shape[0]
            if got != want:
                raise MgtError(f"{folder}: {key} is {shape}, which does not fit {name} ({module.in_features} -> "
                               f"{module.out_features}) of this run's base (lora.adapter_name_or_path); expected "
                               "an adapter trained on this base model")


def load_adapter(model, lora_cfg):
    """The base with the adapter on: trainable (lora) or merged in (full, freeze)."""
    from peft import PeftModel

    folder = adapter_folder(lora_cfg.adapter_name_or_path)
    check_base(folder, model.config._name_or_path)
    check_shapes(model, folder)
    trainable = lora_cfg.finetuning_type == "lora"
    model = PeftModel.from_pretrained(model, str(folder), is_trainable=trainable)
    conf = model.peft_config["default"]
    if not trainable:
        print(f"lora.adapter_name_or_path: {folder} merged into the base before {lora_cfg.finetuning_type} training")
        merged = model.merge_and_unload()
        for param in merged.parameters():  # peft froze the base; full training trains it (freeze picks its own)
            param.requires_grad_(True)
        return merged
    print(f"lora.adapter_name_or_path: continuing the adapter in {folder} (r={conf.r}, alpha={conf.lora_alpha}, "
          f"targets {sorted(conf.target_modules) if conf.target_modules else '-'}; lora.rank/alpha/target unused)")
    return model
