"""The exported JSON schema is current, and every knob has help text."""

import json
from pathlib import Path

from mgtrainer.config.run import RunConfig
from mgtrainer.config.schema import json_schema
from mgtrainer.config.sections import SECTIONS
from mgtrainer.tasks import TASKS

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "references" / "mgtrainer.schema.json"


def test_committed_schema_is_up_to_date():
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == json_schema(), (
        "references/mgtrainer.schema.json is stale: run "
        "`python -m mgtrainer config schema -o references/mgtrainer.schema.json`")


def test_every_field_has_a_description():
    models = [RunConfig, *SECTIONS.values()]
    missing = [f"{m.__name__}.{name}" for m in models for name, f in m.model_fields.items()
               if not f.description]
    assert missing == []


def test_schema_allows_task_shorthand_and_lists_sections():
    schema = json_schema()
    assert schema["properties"]["task"]["anyOf"][0]["enum"] == list(TASKS)
    assert set(schema["properties"]) == {"task", "backend", "model", "data", "train", "lora", "eval", "serve"}
    assert schema["required"] == ["task", "model"]


def test_reference_page_tables_are_up_to_date():
    from mgtrainer.config.schema import reference_markdown

    page = (SCHEMA_FILE.parent / "config.md").read_text()
    assert reference_markdown() in page, (
        "references/config.md is stale: run `python -m mgtrainer.config.schema`")
