"""Whether a checkpoint folder is whole enough to resume from, without loading a tensor: weights, optimizer,
scheduler and trainer state present, torch files (zip archives: the central directory is at the end) readable,
a safetensors file as long as its header declares, a sharded index's shards all there. Standard library only."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
           "adapter_model.safetensors", "adapter_model.bin")


def incomplete(ckpt: Path) -> str | None:
    """Why a checkpoint cannot be resumed (None: weights, optimizer, scheduler and trainer state are all
    present and whole). Checks structure without loading tensors: torch files are zip archives whose
    central directory is at the end, a safetensors file declares its own length."""
    weights = [ckpt / w for w in WEIGHTS if (ckpt / w).is_file()]
    if not weights:
        return "no model weights"
    for w in weights:
        why = _safetensors_whole(w) if w.suffix == ".safetensors" else _zip_whole(w) if w.suffix == ".bin" else None
        if why:
            return f"{w.name} {why}"
        if w.name.endswith(".index.json"):
            why = _json_whole(w) or _shards_whole(w)
            if why:
                return f"{w.name} {why}"
    for name in ("optimizer.pt", "scheduler.pt"):
        why = _zip_whole(ckpt / name)
        if why:
            return f"{name} {why}"
    why = _json_whole(ckpt / "trainer_state.json")
    if why:
        return f"trainer_state.json {why}"
    return None


def _zip_whole(path: Path) -> str | None:
    try:
        if path.stat().st_size == 0:
            return "is empty"
        with zipfile.ZipFile(path) as z:
            z.infolist()
    except FileNotFoundError:
        return "missing"
    except (OSError, zipfile.BadZipFile, ValueError) as err:
        return f"unreadable ({type(err).__name__})"
    return None


def _safetensors_whole(path: Path) -> str | None:
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if size < 8 or n <= 0 or 8 + n > size:
                return "truncated"
            header = json.loads(fh.read(n))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable"
    return "truncated" if 8 + n + end > size else None


def _shards_whole(index: Path) -> str | None:
    """The shards a sharded checkpoint's index names are all there and whole."""
    try:
        shards = sorted(set(json.loads(index.read_text()).get("weight_map", {}).values()))
    except (OSError, ValueError, AttributeError):
        return "unreadable"
    for name in shards:
        shard = index.parent / name
        why = _safetensors_whole(shard) if shard.suffix == ".safetensors" else _zip_whole(shard)
        if why:
            return f"names {name}, which is {why}"
    return None


def _json_whole(path: Path) -> str | None:
    try:
        json.loads(path.read_text())
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError):
        return "unreadable"
    return None


def space_needed(cfg, model) -> tuple[int, int, int]:
    """(bytes of one checkpoint, of final/, checkpoints kept at once): weights that change (all of them in a full
    fine-tune, the adapter with LoRA) + AdamW's two fp32 moments per trained parameter; final/ holds the whole
    model (LoRA merged) plus the adapter. An estimate: tokenizer files, optimizer bookkeeping and the trainer's
    state add a little."""
    params = list(model.parameters())
    whole = sum(p.numel() * p.element_size() for p in params)
    trained = [p for p in params if p.requires_grad]
    moved = sum(p.numel() * p.element_size() for p in trained)
    lora = cfg.lora.finetuning_type == "lora"
    ckpt = (moved if lora else whole) + sum(p.numel() for p in trained) * 8
    t = cfg.train
    kept = 0 if t.save_strategy == "no" else (t.save_total_limit or 1) + 1  # the new one is written before rotation
    return ckpt, whole + (moved if lora else 0), kept


def refuse_without_room(cfg, model) -> None:
    """Before training: the output folder's disk must hold the checkpoints kept at once and final/ (issue 31:
    a disk that fills at a checkpoint leaves a torn one and the run's work since the last)."""
    from mgtrainer.errors import MgtError
    from mgtrainer.faults import free_mib

    ckpt, final, kept = space_needed(cfg, model)
    need, free = (kept * ckpt + final) >> 20, free_mib(cfg.train.output_dir)
    if free is not None and free < need:
        raise MgtError(f"{cfg.train.output_dir}: not enough free space for this run: about {need} MiB ({kept} "
                       f"checkpoint(s) of {ckpt >> 20} MiB kept at once + final/ {final >> 20} MiB), {free} MiB free "
                       "(train.output_dir); expected more free space, a smaller train.save_total_limit, "
                       "train.save_strategy: no, or another output_dir")
