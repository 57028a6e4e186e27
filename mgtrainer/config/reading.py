"""Reading a config: the file's (key path, value, file:line) entries and the `key=value` overrides.

YAML is read with SafeLoader (a `!!python/...` tag is refused, never run) that also takes 1e-4 as a float;
every key's line is recorded (two levels deep) so later messages can name it; duplicated keys are refused.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mgtrainer.config.messages import SHOWN, cut, did_you_mean
from mgtrainer.config.sections import SECTIONS
from mgtrainer.errors import MgtError

GROUPS = (*SECTIONS, "task")


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads 1e-4 as a float (YAML 1.2), as users write learning rates."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


@dataclass
class Entry:
    path: tuple[str, ...]  # ("learning_rate",) or ("train", "learning_rate")
    value: Any
    where: str  # "cfg.yaml:12" or "override 'lr=1'"
    origin: str  # "file" or "override"

    @property
    def key(self) -> str:
        return self.path[-1]


def parse_value(text: str) -> Any:
    """An override's value as a YAML scalar or flow list/mapping: '1e-4' -> 1e-4, '[a,b]' -> list."""
    try:
        return yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, ValueError, RecursionError):  # a tag, a 5000-digit int, deep nesting: the text
        return text


def read(source) -> tuple[dict, dict, str]:
    if isinstance(source, dict):
        return source, {}, "<config>"
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MgtError(f"{path}: config file not found") from None
    except (UnicodeDecodeError, IsADirectoryError) as err:
        raise MgtError(f"{path}: cannot read config ({err.__class__.__name__}); expected UTF-8 "
                       "YAML or JSON") from None
    node = _compose(text, path)
    if node is None:
        raise MgtError(f"{path}: empty config; expected a mapping with at least task and model")
    if not isinstance(node, yaml.MappingNode):
        raise MgtError(f"{path}:{node.start_mark.line + 1}: the config must be a mapping "
                       "(key: value lines)")
    lines: dict[tuple, int] = {}
    _key_lines(node, (), lines, path)
    return _parse(text, path), lines, str(path)


def _parse(text: str, path: Path):
    """The config's values (SafeLoader: a `!!python/...` tag is refused, never run)."""
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
    except yaml.constructor.ConstructorError as err:
        raise _tag_error(err, path) from None
    except ValueError as err:  # JSON syntax, or an integer over Python's 4300-digit limit (YAML or JSON)
        raise _value_error(err, text, path) from None
    except (yaml.YAMLError, RecursionError) as err:
        raise MgtError(f"{path}:1: invalid YAML/JSON ({cut(str(err) or type(err).__name__, SHOWN)}); expected "
                       "a mapping of settings") from None


def _tag_error(err, path: Path) -> MgtError:
    line = err.problem_mark.line + 1 if err.problem_mark else 1
    tag = re.search(r"tag '([^']*)'", err.problem or "")
    if not tag:
        return MgtError(f"{path}:{line}: {cut(err.problem or err, SHOWN)}; expected plain YAML values")
    name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
    return MgtError(f"{path}:{line}: YAML tag {cut(name, 80)!r} is not allowed; expected plain values "
                    "(strings, numbers, booleans, lists, mappings)")


def _value_error(err: ValueError, text: str, path: Path) -> MgtError:
    limit = sys.get_int_max_str_digits()
    digits = re.search(r"\d{%d,}" % (limit + 1), text) if "digits" in str(err) else None
    if digits is None:
        return MgtError(f"{path}:1: invalid YAML/JSON ({cut(err, SHOWN)}); expected a mapping of settings")
    line = text.count("\n", 0, digits.start()) + 1
    return MgtError(f"{path}:{line}: integer with more than {limit} digits; expected a number of at most "
                    f"{limit} digits")


def _compose(text: str, path: Path):
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise MgtError(f"{path}{line}: invalid YAML/JSON: {cut(getattr(err, 'problem', None) or err, 200)}") \
            from None
    except RecursionError:
        raise MgtError(f"{path}:1: YAML nested too deeply; expected a mapping of settings") from None


def _key_lines(node, prefix: tuple, out: dict, path: Path, seen: set | None = None) -> None:
    """Record the line of each key (two levels deep) and refuse a key repeated in any mapping at any depth
    (`fsdp_config: {version: 1, version: 2}` too); each node is walked once (a YAML alias repeats a node)."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _key_lines(item, prefix + (str(i),), out, path, seen)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    here: dict = {}
    for key_node, value_node in node.value:
        key = prefix + (str(key_node.value),)
        line = key_node.start_mark.line + 1
        if key in here:
            raise MgtError(f"{path}:{line}: duplicate key '{'.'.join(key)}' (first set on line "
                           f"{here[key]}); expected each key once")
        here[key] = line
        if len(key) <= 2:
            out[key] = line
        _key_lines(value_node, key, out, path, seen)


def collect(raw: dict, lines: dict, label: str, origin: str) -> list[Entry]:
    entries = []
    for key, value in raw.items():
        key = str(key)
        if key in GROUPS and isinstance(value, dict):
            for sub, sub_value in value.items():
                where = _where(label, lines, (key, str(sub)))
                entries.append(Entry((key, str(sub)), sub_value, where, origin))
        else:
            entries.append(Entry((key,), value, _where(label, lines, (key,)), origin))
    return entries


def _where(label: str, lines: dict, path: tuple) -> str:
    return f"{label}:{lines[path]}" if path in lines else label


def override(text: str) -> list[Entry]:
    key, sep, value = text.partition("=")
    where = f"override '{cut(text, SHOWN)}'"
    if not sep or not key.strip():
        raise MgtError(f"{where}: expected KEY=VALUE (e.g. train.learning_rate=1e-4 or lora_rank=16)")
    path = tuple(part.strip() for part in key.split("."))
    value = parse_value(value)
    if len(path) == 1:
        return [Entry(e.path, e.value, where, "override") for e in collect({path[0]: value}, {}, "", "")]
    if len(path) > 2 or path[0] not in GROUPS:
        hint = did_you_mean(path[0], GROUPS)
        raise MgtError(f"{where}: '{key}' is not SECTION.FIELD{hint}; sections are "
                       f"{', '.join(GROUPS)}")
    return [Entry(path, value, where, "override")]

