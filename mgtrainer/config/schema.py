"""The JSON schema of RunConfig (for editors) and the resolved config as YAML/JSON text."""

from __future__ import annotations

import json

import yaml

from mgtrainer.config.run import RunConfig
from mgtrainer.tasks import TASKS


def json_schema() -> dict:
    """RunConfig's JSON schema, also allowing the `task: NAME` and `model: PATH` shorthands.

    It describes the canonical form; aliases (lora_rank, learning_rate flat, ...) are accepted by
    load_config but not listed here, so an editor will flag them.
    """
    schema = RunConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mgtrainer RunConfig"
    props = schema["properties"]
    props["task"] = {"description": props["task"].get("description"),
                     "anyOf": [{"type": "string", "enum": list(TASKS)},
                               {k: v for k, v in props["task"].items() if k != "description"}]}
    model = props["model"]
    props["model"] = {"description": model.get("description"),
                      "anyOf": [{"type": "string"}, {"$ref": model.get("$ref", "")}]}
    return schema


def dump(cfg: RunConfig, fmt: str = "yaml") -> str:
    data = cfg.model_dump(mode="json")
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
