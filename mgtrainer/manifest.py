"""`final/mgtrainer.json`: what serving, predict and reporting need to know about a trained model.

Written by the driver (and the LLaMA-Factory backend) next to the weights; read by `mgtrainer serve`,
`mgtrainer predict` and `mgtrainer report`. No torch here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mgtrainer import __version__, atomic

FILENAME = "mgtrainer.json"


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str  # a key of mgtrainer.tasks.TASKS
    base_model: str
    head: Literal["causal_lm", "sequence_classification", "encoder", "media_lm"]
    finetuning_type: Literal["full", "lora", "freeze"] = "full"
    labels: list[str] | None = None  # classify: id order; rm/rerank: None (one output)
    multi_label: bool = False
    pooling: Literal["mean", "cls", "last"] | None = None  # embed (and pooled decoders)
    normalize: bool | None = None
    query_instruction: str | None = None
    passage_instruction: str | None = None
    template: str | None = None  # "model" = the tokenizer's own chat template, or the fallback's name
    max_length: int | None = None
    bi_encoder_weight: float | None = None  # score = head logit + this x cosine of base_model as a bi-encoder
    adapter_dir: str | None = None  # relative to final/: the kept LoRA adapter
    backend: Literal["native", "llamafactory"] = "native"
    modality: list[str] | None = None  # media_lm: the media kinds it takes ("image", "audio")
    processor: str | None = None  # media_lm: the transformers processor class saved beside the weights
    metrics: dict[str, float] = {}
    data: dict[str, int] = {}  # what encoding did to the train rows: rows, truncated, dropped, weight0_turns
    mgtrainer_version: str = __version__


def write(manifest: Manifest, model_dir: str | Path) -> Path:
    """Write atomically (mgtrainer.atomic: temp file + rename) into model_dir."""
    return atomic.write_text(Path(model_dir) / FILENAME, json.dumps(manifest.model_dump(), indent=2,
                                                                     ensure_ascii=False) + "\n")


def read(model_dir: str | Path) -> Manifest:
    """Read the manifest of an output folder or of its final/."""
    from mgtrainer.errors import MgtError

    base = Path(model_dir)
    for cand in (base / FILENAME, base / "final" / FILENAME):
        if cand.is_file():
            return Manifest.model_validate_json(cand.read_text())
    raise MgtError(f"{base}: no {FILENAME} here or in {base / 'final'}; expected a folder written by `mgtrainer train`")


def model_dir(path: str | Path) -> Path:
    """The folder holding the weights: `path` itself or its final/."""
    base = Path(path)
    return base if (base / FILENAME).is_file() else base / "final"
