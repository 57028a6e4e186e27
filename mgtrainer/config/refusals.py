"""What the config layer refuses although pydantic would take it: NaN or infinity anywhere, a boolean where a
number is expected (pydantic reads `max_steps: true` as 1), and a model that runs its own code without
trust_remote_code."""

from __future__ import annotations

import json
import math
import os
import typing
from pathlib import Path

from mgtrainer.config.messages import cut
from mgtrainer.config.run import RunConfig
from mgtrainer.errors import MgtError


def refuse_non_finite(tree: dict, origins: dict, label: str) -> None:
    """NaN or infinity anywhere in the config (`learning_rate: .inf` would train to NaN)."""
    for loc, value in _leaves(tree):
        if isinstance(value, float) and not math.isfinite(value):
            where = origins.get(loc[:2]) or origins.get(loc[:1]) or label
            raise MgtError(f"{where}: invalid {'.'.join(loc)} = {value}: not a finite number; expected a "
                           "finite number")


def refuse_bool_numbers(tree: dict, origins: dict, label: str) -> None:
    """`learning_rate: true` or `max_steps: yes`: YAML booleans in a number field (int or float, not bool)."""
    from mgtrainer.config.sections import SECTIONS
    from mgtrainer.tasks import TASKS, get

    task = tree.get("task", {}).get("name") if isinstance(tree.get("task"), dict) else None
    models = {**SECTIONS, **({"task": get(task).Config} if task in TASKS else {})}
    for section, values in tree.items():
        if section not in models or not isinstance(values, dict):
            continue
        for key, value in values.items():
            field = models[section].model_fields.get(key)
            if field is None:
                continue
            items = value if isinstance(value, list) and _number_only(_item_type(field.annotation)) else \
                [value] if _number_only(field.annotation) else []
            if any(isinstance(v, bool) for v in items):
                where = origins.get((section, key)) or origins.get((section,)) or label
                raise MgtError(f"{where}: invalid {section}.{key} = {value}: a boolean where a number is expected; "
                               f"expected a number ({(field.description or key).rstrip('.')})")


def _number_only(annotation) -> bool:
    """The annotation takes an int or a float but not a bool (`int | None` yes, `bool | int` no)."""
    args = typing.get_args(annotation) or (annotation,)
    return any(a in (int, float) for a in args) and bool not in args


def _item_type(annotation):
    """The item type of a list annotation (`list[int] | None` -> int), else None."""
    for a in typing.get_args(annotation) or (annotation,):
        if typing.get_origin(a) is list and typing.get_args(a):
            return typing.get_args(a)[0]
    return None


def _leaves(tree: dict):
    """(key path, value) of every scalar; each list/mapping is walked once, so YAML aliases that repeat
    one list a billion times (an alias bomb) cost one visit each."""
    stack, seen = [((), tree)], set()
    while stack:
        loc, value = stack.pop()
        if isinstance(value, (dict, list)):
            if id(value) in seen:
                continue
            seen.add(id(value))
            items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
            stack.extend((loc + (str(k),) if k is not None else loc, v) for k, v in items)
        else:
            yield loc, value


def refuse_remote_code(cfg: RunConfig, origins: dict, label: str) -> None:
    """A model whose config.json maps to its own code (auto_map) for a model_type transformers does not
    know needs trust_remote_code; say so now, in one line, rather than as transformers' traceback.
    Checked where the model's config.json is on disk and transformers is importable (the train env)."""
    if cfg.model.trust_remote_code:
        return
    model_type = _remote_model_type(cfg.model.name_or_path)
    if model_type is None:
        return
    where = origins.get(("model", "name_or_path")) or origins.get(("model",)) or label
    raise MgtError(f"{where}: model {cut(cfg.model.name_or_path, 80)} runs its own code (model_type "
                   f"{cut(model_type, 40)!r} with auto_map in config.json) and trust_remote_code is false; expected "
                   "model.trust_remote_code: true for a model you trust, or a model transformers supports")


def _remote_model_type(name: str) -> str | None:
    """The model_type of a local or cached model that only its own code can load, else None."""
    info = _model_config_json(name)
    if not isinstance(info, dict) or not info.get("auto_map"):
        return None
    try:
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    except Exception:  # noqa: BLE001 - the light core has no transformers: the train env checks again
        return None
    model_type = str(info.get("model_type", ""))
    return None if model_type in CONFIG_MAPPING else model_type


def _model_config_json(name: str):
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
    candidates = [Path(name) / "config.json"]
    try:
        candidates += sorted((Path(hub) / f"models--{name.replace('/', '--')}" / "snapshots").glob("*/config.json"))
    except (OSError, ValueError):  # a name that is no path (too long, a NUL byte): nothing cached under it
        pass
    for path in candidates:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None
