"""Validating the resolved tree with pydantic, and explaining its first error in one line that names where the
field was set (file:line or override) and what would be valid."""

from __future__ import annotations

import re

from pydantic import ValidationError

from mgtrainer.config.messages import show
from mgtrainer.config.run import RunConfig, run_config
from mgtrainer.config.sections import SECTIONS
from mgtrainer.errors import MgtError
from mgtrainer.tasks import TASKS


def validate(tree: dict, origins: dict, label: str) -> RunConfig:
    try:
        return run_config().model_validate(tree)
    except ValidationError as err:
        errors = err.errors()
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise MgtError(_explain(errors[0], origins, label) + more) from None


def _explain(error: dict, origins: dict, label: str) -> str:
    loc = tuple(str(part) for part in error["loc"])
    if loc[:1] == ("task",) and len(loc) > 1 and loc[1] in TASKS:
        loc = ("task",) + loc[2:]
    dotted = ".".join(loc)
    where = origins.get(loc[:2]) or origins.get(loc[:1]) or _mentioned(error["msg"], loc, origins) \
        or label
    if error["type"] == "missing":
        loc = _first_required(loc)
        dotted = ".".join(loc)
        return f"{label}: missing {dotted}; expected {_expected(loc)}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "union_tag_not_found":
        return f"{where}: task has no name; expected one of {', '.join(TASKS)}"
    if not loc or isinstance(error.get("input"), dict):
        return f"{where}: {dotted + ': ' if dotted else ''}{message}"
    return f"{where}: invalid {dotted} = {show(error['input'])}: {message}"


def _mentioned(message: str, loc: tuple, origins: dict) -> str | None:
    """Where the first field named in a cross-field message was set (e.g. 'bf16 and fp16 ...')."""
    for word in re.findall(r"[\w.]+", message):
        for field_loc in (tuple(word.split(".")), loc + (word,) if loc else None):
            if field_loc in origins:
                return origins[field_loc]
    return None


def _first_required(loc: tuple) -> tuple:
    """('model',) -> ('model', 'name_or_path'): name the field the user has to write."""
    if len(loc) == 1 and loc[0] in SECTIONS:
        required = [k for k, f in SECTIONS[loc[0]].model_fields.items() if f.is_required()]
        return loc + tuple(required[:1])
    return loc


def _expected(loc: tuple) -> str:
    if loc == ("task",):
        return f"task: one of {', '.join(TASKS)}"
    model, field = run_config(), None
    for part in loc:
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return "a value"
        model = field.annotation
    return (field.description or "a value").rstrip(".")

