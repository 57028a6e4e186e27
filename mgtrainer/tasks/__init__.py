"""The one task registry. Adding a task = a module here + one line in TASKS.

Each task module satisfies mgtrainer.tasks.contract.Task: Config, HEAD, RECORD, SERVE, STREAMING,
run(cfg, data), evaluate(cfg, data, model_dir), and how it is served, predicted and parity-checked
(serve_settings, request, call, response, probe, served, compare). Everything outside this package
reads these names through get(); a task's name is spelled only here. At import time a task module
imports only light things (pydantic, typing); torch, transformers, ... stay inside functions.
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
    "msft": "mgtrainer.tasks.msft",
    "dpo": "mgtrainer.tasks.dpo",
    "kto": "mgtrainer.tasks.kto",
    "orpo": "mgtrainer.tasks.orpo",
    "grpo": "mgtrainer.tasks.grpo",
}


def get(name: str) -> ModuleType:
    from mgtrainer.errors import MgtError

    if name not in TASKS:
        raise MgtError(f"unknown task '{name}'; expected one of {', '.join(TASKS)}")
    return importlib.import_module(TASKS[name])


def config_classes() -> list[type]:
    """The task Config classes, for RunConfig's discriminated union."""
    return [get(name).Config for name in TASKS]
