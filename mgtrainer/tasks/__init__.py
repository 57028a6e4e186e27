"""The one task registry. Adding a task = a module here + one line in TASKS.

Each task module defines, at import time only light things (pydantic, typing):
  Config  - pydantic model with `name: Literal["<task>"]` and the task's own knobs (joins RunConfig.task)
  HEAD    - "causal_lm" | "sequence_classification" | "encoder"
  RECORD  - the data-layer record kind it trains on (see mgtrainer.data.records)
  SERVE   - how vLLM serves it: {"runner": ..., "convert": ..., "endpoints": [...]} (read by mgtrainer.serve)
  run(cfg: RunConfig) -> dict        - train (+ eval), write final/ and its manifest; returns final metrics
  evaluate(cfg: RunConfig, model_dir) -> dict
Heavy imports (torch, transformers, ...) stay inside functions.
"""

from __future__ import annotations

import importlib
from types import ModuleType

TASKS: dict[str, str] = {
    "pt": "mgtrainer.tasks.pt",
    "sft": "mgtrainer.tasks.sft",
    "classify": "mgtrainer.tasks.classify",
    "rm": "mgtrainer.tasks.rm",
    "embed": "mgtrainer.tasks.embed",
    "rerank": "mgtrainer.tasks.rerank",
}


def get(name: str) -> ModuleType:
    from mgtrainer.errors import MgtError

    if name not in TASKS:
        raise MgtError(f"unknown task '{name}'; expected one of {', '.join(TASKS)}")
    return importlib.import_module(TASKS[name])


def config_classes() -> list[type]:
    """The task Config classes, for RunConfig's discriminated union."""
    return [get(name).Config for name in TASKS]
