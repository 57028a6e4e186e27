"""load_config: a YAML/JSON file (or a dict) plus `key=value` overrides -> RunConfig.

Loading is three small steps: collect (key path, value, where) entries from the file and the
overrides; resolve each key to one canonical field (aliases, flat names, ignored and unsupported
keys); validate the nested dict with pydantic. Every mistake becomes one MgtError line that names the
file and line (or the override), the key, and what would be valid.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import reprlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mgtrainer.config.aliases import ALIASES, SKIP, UNSUPPORTED, convert_stage, ignored_reason
from mgtrainer.config.run import RunConfig, run_config
from mgtrainer.config.sections import SECTIONS
from mgtrainer.errors import MgtError
from mgtrainer.tasks import TASKS, config_classes

GROUPS = (*SECTIONS, "task")
SHOWN = 120  # a value quoted in a message is cut to this many characters (an alias bomb is not echoed whole)
LINE = 600  # and no message is longer than this


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


def load_config(source: str | Path | dict, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Load a RunConfig from a YAML/JSON path or a dict, then apply `key=value` overrides."""
    try:
        return _load(source, overrides)
    except MgtError as err:
        text = str(err)
        if len(text) > LINE:
            raise MgtError(_cut(text, LINE)) from None
        raise


def _load(source, overrides) -> RunConfig:
    raw, lines, label = _read(source)
    entries = _collect(raw, lines, label, "file")
    for text in overrides:
        entries += _override(text)
    task = _task_name(entries)
    tree, origins, notes = _resolve(entries, task)
    _task_defaults(tree, task)
    _refuse_non_finite(tree, origins, label)
    cfg = _validate(tree, origins, label)
    _refuse_non_finite(cfg.model_dump(), origins, label)
    _refuse_remote_code(cfg, origins, label)
    cfg._notes = notes
    cfg._source = None if isinstance(source, dict) else str(source)
    return cfg


def parse_value(text: str) -> Any:
    """An override's value as a YAML scalar or flow list/mapping: '1e-4' -> 1e-4, '[a,b]' -> list."""
    try:
        return yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, ValueError, RecursionError):  # a tag, a 5000-digit int, deep nesting: the text
        return text


# -- reading -------------------------------------------------------------------------------------

def _read(source) -> tuple[dict, dict, str]:
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
        raise MgtError(f"{path}:1: invalid YAML/JSON ({_cut(str(err) or type(err).__name__, SHOWN)}); expected "
                       "a mapping of settings") from None


def _tag_error(err, path: Path) -> MgtError:
    line = err.problem_mark.line + 1 if err.problem_mark else 1
    tag = re.search(r"tag '([^']*)'", err.problem or "")
    if not tag:
        return MgtError(f"{path}:{line}: {_cut(err.problem or err, SHOWN)}; expected plain YAML values")
    name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
    return MgtError(f"{path}:{line}: YAML tag {_cut(name, 80)!r} is not allowed; expected plain values "
                    "(strings, numbers, booleans, lists, mappings)")


def _value_error(err: ValueError, text: str, path: Path) -> MgtError:
    limit = sys.get_int_max_str_digits()
    digits = re.search(r"\d{%d,}" % (limit + 1), text) if "digits" in str(err) else None
    if digits is None:
        return MgtError(f"{path}:1: invalid YAML/JSON ({_cut(err, SHOWN)}); expected a mapping of settings")
    line = text.count("\n", 0, digits.start()) + 1
    return MgtError(f"{path}:{line}: integer with more than {limit} digits; expected a number of at most "
                    f"{limit} digits")


def _compose(text: str, path: Path):
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise MgtError(f"{path}{line}: invalid YAML/JSON: {_cut(getattr(err, 'problem', None) or err, 200)}") \
            from None
    except RecursionError:
        raise MgtError(f"{path}:1: YAML nested too deeply; expected a mapping of settings") from None


def _key_lines(node, prefix: tuple, out: dict, path: Path) -> None:
    """Record the line of each key (two levels deep) and refuse duplicated keys."""
    for key_node, value_node in node.value:
        key = prefix + (str(key_node.value),)
        line = key_node.start_mark.line + 1
        if key in out:
            raise MgtError(f"{path}:{line}: duplicate key '{'.'.join(key)}' (first set on line "
                           f"{out[key]}); expected each key once")
        out[key] = line
        if not prefix and isinstance(value_node, yaml.MappingNode):
            _key_lines(value_node, key, out, path)


def _collect(raw: dict, lines: dict, label: str, origin: str) -> list[Entry]:
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


def _override(text: str) -> list[Entry]:
    key, sep, value = text.partition("=")
    where = f"override '{_cut(text, SHOWN)}'"
    if not sep or not key.strip():
        raise MgtError(f"{where}: expected KEY=VALUE (e.g. train.learning_rate=1e-4 or lora_rank=16)")
    path = tuple(part.strip() for part in key.split("."))
    value = parse_value(value)
    if len(path) == 1:
        return [Entry(e.path, e.value, where, "override") for e in _collect({path[0]: value}, {}, "", "")]
    if len(path) > 2 or path[0] not in GROUPS:
        hint = _hint(path[0], GROUPS)
        raise MgtError(f"{where}: '{key}' is not SECTION.FIELD{hint}; sections are "
                       f"{', '.join(GROUPS)}")
    return [Entry(path, value, where, "override")]


# -- resolving -----------------------------------------------------------------------------------

def _task_name(entries: list[Entry]) -> str | None:
    name = None
    for entry in entries:
        if entry.path in (("task",), ("task", "name"), ("stage",)) and isinstance(entry.value, str):
            name = _convert(entry, convert_stage)
            if name not in TASKS:
                raise MgtError(f"{entry.where}: unknown task '{name}'{_hint(name, TASKS)}; expected "
                               f"one of {', '.join(TASKS)}")
    return name


def _task_defaults(tree: dict, task: str | None) -> None:
    """The task's own defaults (its module's DEFAULTS: {section: {field: value}}) where the run set nothing.
    They tune mgtrainer's own trainers: a run on another backend (llamafactory) keeps that backend's defaults."""
    from mgtrainer.tasks import get

    if tree.get("backend", "native") != "native":
        return
    for section, values in getattr(get(task), "DEFAULTS", {}).items() if task else ():
        if isinstance(tree.setdefault(section, {}), dict):
            for key, value in values.items():
                tree[section].setdefault(key, value)


def _resolve(entries: list[Entry], task: str | None) -> tuple[dict, dict, list[str]]:
    tree: dict[str, Any] = {}
    origins: dict[tuple, Entry] = {}
    notes: list[str] = []
    for entry in entries:
        target = _target(entry, task, notes)
        if target is None:
            continue
        loc, value = target
        _check_twice(origins.get(loc), entry, loc, value, tree)
        origins[loc] = entry
        if len(loc) == 1:
            tree[loc[0]] = value
        else:
            tree.setdefault(loc[0], {})[loc[1]] = value
    return tree, {loc: e.where for loc, e in origins.items()}, notes


def _check_twice(previous: Entry | None, entry: Entry, loc: tuple, value, tree: dict) -> None:
    """The same field set twice in one file under two names (e.g. max_length and cutoff_len)."""
    if previous is None or previous.origin != entry.origin or entry.origin == "override":
        return
    old = tree[loc[0]] if len(loc) == 1 else tree[loc[0]][loc[1]]
    if old != value:
        raise MgtError(f"{entry.where}: '{entry.key}' sets {'.'.join(loc)} = {_show(value)}, but "
                       f"{previous.where} ('{previous.key}') already set it to {_show(old)}; keep one")


def _target(entry: Entry, task: str | None, notes: list[str]):
    """(loc, value) for one entry, or None when the key is ignored."""
    if len(entry.path) == 2:
        return _in_group(entry, task, notes)
    key, value = entry.key, entry.value
    if key == "backend":
        return ("backend",), value
    if key == "task" and isinstance(value, str):
        return ("task", "name"), _convert(entry, convert_stage)
    if key == "model" and isinstance(value, str):
        return ("model", "name_or_path"), value
    if key in GROUPS:
        raise MgtError(f"{entry.where}: '{key}' must be a mapping of {key} settings (or use "
                       f"flat keys); got {type(value).__name__} {_show(value)}")
    return _flat(entry, task, notes)


def _flat(entry: Entry, task: str | None, notes: list[str]):
    key, value = entry.key, entry.value
    reason = ignored_reason(key, value)
    if reason:
        notes.append(f"{entry.where}: ignored '{key}' ({reason})")
        return None
    if key in UNSUPPORTED:
        raise MgtError(f"{entry.where}: '{key}' is not supported: {UNSUPPORTED[key]}")
    if key in ALIASES:
        target = ALIASES[key].target
        if target.startswith("task.") and target != "task.name" and task is not None:
            _task_field(Entry(("task", target[5:]), entry.value, entry.where, entry.origin), task, [], True)
        return _aliased(entry, ALIASES[key])  # (an alias of another task's field was refused just above)
    if key in FLAT:
        return (FLAT[key], key), value
    if key in TASK_FIELDS:
        return _task_field(entry, task, notes)
    hint = _hint(key, ALL_NAMES) or "; expected a RunConfig field (see `mgtrainer config schema`)"
    raise MgtError(f"{entry.where}: unknown key '{_cut(key, 80)}'{hint}")


def _in_group(entry: Entry, task: str | None, notes: list[str]):
    group, key = entry.path
    if group == "task":
        if key == "name":
            return ("task", "name"), _convert(entry, convert_stage)
        return _task_field(entry, task, notes, in_section=True)
    if key in SECTIONS[group].model_fields:
        return (group, key), entry.value
    alias = ALIASES.get(key)
    if alias and alias.target.startswith(group + "."):
        return _aliased(entry, alias)
    if ignored_reason(key, entry.value) or key in UNSUPPORTED:
        return _flat(entry, task, notes)
    home = _home(key)
    if home:
        raise MgtError(f"{entry.where}: '{key}' is not a {group} setting; it belongs in {home}")
    names = list(SECTIONS[group].model_fields) + [k for k, a in ALIASES.items()
                                                  if a.target.startswith(group + ".")]
    raise MgtError(f"{entry.where}: unknown key '{group}.{_cut(key, 80)}'{_hint(key, names)}; expected one "
                   f"of {', '.join(SECTIONS[group].model_fields)}")


def _aliased(entry: Entry, alias) -> tuple | None:
    value = _convert(entry, alias.convert) if alias.convert else entry.value
    if value is SKIP:
        return None
    return tuple(alias.target.split(".")), value


def _task_field(entry: Entry, task: str | None, notes: list[str], in_section: bool = False):
    key, value = entry.key, entry.value
    by_task = task_fields()
    fields = by_task.get(task, {})
    if key in fields:
        return ("task", key), value
    owners = [name for name, names in by_task.items() if key in names]
    if owners and (value is None or value is False):
        notes.append(f"{entry.where}: ignored '{key}: {_show(value)}' (task {task} has no {key})")
        return None
    if owners:
        which = f"not of task '{task}'" if task else f"set task: {owners[0]}"
        raise MgtError(f"{entry.where}: '{key}' is a setting of task {', '.join(owners)}, {which}")
    label = f"task.{key}" if in_section else key
    expected = ", ".join(fields) if fields else "the task's own fields"
    raise MgtError(f"{entry.where}: unknown key '{label}'{_hint(key, fields)}; expected one of "
                   f"name, {expected}")


def _convert(entry: Entry, convert):
    try:
        return convert(entry.value)
    except (ValueError, TypeError) as err:
        raise MgtError(f"{entry.where}: invalid '{entry.key}' = {_show(entry.value)}: {_cut(err, SHOWN)}") from None


def _home(key: str) -> str | None:
    if key in ALIASES:
        return ALIASES[key].target
    if key in FLAT:
        return f"{FLAT[key]}.{key}"
    return None


def _hint(key: str, names) -> str:
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _flat_names() -> dict[str, str]:
    """Canonical field name -> its section, for names that are unique across sections."""
    seen: dict[str, list[str]] = {}
    for section, model in SECTIONS.items():
        for name in model.model_fields:
            seen.setdefault(name, []).append(section)
    return {name: secs[0] for name, secs in seen.items() if len(secs) == 1 and name not in GROUPS}


FLAT = _flat_names()
def task_fields() -> dict[str, dict]:
    """Task name -> its own fields (all but name), from the registry as it is now."""
    return {cls.model_fields["name"].default: {k: f for k, f in cls.model_fields.items() if k != "name"}
            for cls in config_classes()}


TASK_FIELDS = {name for fields in task_fields().values() for name in fields}
ALL_NAMES = sorted(set(FLAT) | set(ALIASES) | TASK_FIELDS | set(GROUPS) | {"backend"}
                   | {f"{s}.{f}" for s, m in SECTIONS.items() for f in m.model_fields})


# -- validating ----------------------------------------------------------------------------------

def _validate(tree: dict, origins: dict, label: str) -> RunConfig:
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
    return f"{where}: invalid {dotted} = {_show(error['input'])}: {message}"


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


# -- limits: finite numbers, trusted code, readable messages -------------------------------------

def _refuse_non_finite(tree: dict, origins: dict, label: str) -> None:
    """NaN or infinity anywhere in the config (`learning_rate: .inf` would train to NaN)."""
    for loc, value in _leaves(tree):
        if isinstance(value, float) and not math.isfinite(value):
            where = origins.get(loc[:2]) or origins.get(loc[:1]) or label
            raise MgtError(f"{where}: invalid {'.'.join(loc)} = {value}: not a finite number; expected a "
                           "finite number")


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


def _refuse_remote_code(cfg: RunConfig, origins: dict, label: str) -> None:
    """A model whose config.json maps to its own code (auto_map) for a model_type transformers does not
    know needs trust_remote_code; say so now, in one line, rather than as transformers' traceback.
    Checked where the model's config.json is on disk and transformers is importable (the train env)."""
    if cfg.model.trust_remote_code:
        return
    model_type = _remote_model_type(cfg.model.name_or_path)
    if model_type is None:
        return
    where = origins.get(("model", "name_or_path")) or origins.get(("model",)) or label
    raise MgtError(f"{where}: model {_cut(cfg.model.name_or_path, 80)} runs its own code (model_type "
                   f"{_cut(model_type, 40)!r} with auto_map in config.json) and trust_remote_code is false; expected "
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


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = SHOWN
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 3, 6, 6


def _show(value) -> str:
    """repr() for a message: bounded depth (an alias bomb is not expanded) and cut to SHOWN characters."""
    return _cut(_REPR.repr(value), SHOWN)


def _cut(text, limit: int) -> str:
    text = " ".join(str(text).split("\n"))
    return text if len(text) <= limit else text[: limit - 3] + "..."
