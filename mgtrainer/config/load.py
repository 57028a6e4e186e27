"""load_config: a YAML/JSON file (or a dict) plus `key=value` overrides -> RunConfig.

Loading is three small steps, one module each: read (key path, value, where) entries from the file and the
overrides (reading.py); resolve each key to one canonical field: aliases, flat names, ignored and unsupported
keys (resolving.py); validate the nested dict with pydantic (explaining.py), then refuse what pydantic would
take but must not run (refusals.py). Every mistake becomes one MgtError line that names the file and line (or
the override), the key, and what would be valid (messages.py keeps it short).
"""

from __future__ import annotations

from pathlib import Path

from mgtrainer.config.explaining import validate
from mgtrainer.config.messages import LINE, cut
from mgtrainer.config.reading import collect, override, parse_value, read
from mgtrainer.config.refusals import refuse_bool_numbers, refuse_non_finite, refuse_remote_code
from mgtrainer.config.resolving import resolve, task_defaults, task_name
from mgtrainer.config.run import RunConfig
from mgtrainer.errors import MgtError

__all__ = ["load_config", "parse_value"]


def load_config(source: str | Path | dict, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Load a RunConfig from a YAML/JSON path or a dict, then apply `key=value` overrides."""
    try:
        return _load(source, overrides)
    except MgtError as err:
        text = str(err)
        if len(text) > LINE:
            raise MgtError(cut(text, LINE)) from None
        raise


def _load(source, overrides) -> RunConfig:
    raw, lines, label = read(source)
    entries = collect(raw, lines, label, "file")
    for text in overrides:
        entries += override(text)
    task = task_name(entries)
    tree, origins, notes = resolve(entries, task)
    task_defaults(tree, task)
    refuse_non_finite(tree, origins, label)
    refuse_bool_numbers(tree, origins, label)
    cfg = validate(tree, origins, label)
    refuse_non_finite(cfg.model_dump(), origins, label)
    refuse_remote_code(cfg, origins, label)
    cfg._notes = notes
    cfg._source = None if isinstance(source, dict) else str(source)
    return cfg

