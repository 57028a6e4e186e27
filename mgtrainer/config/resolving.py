"""Resolving each entry's key to one canonical field: sections, flat names, aliases (config/aliases.py), task
fields, ignored and unsupported keys. A key nothing knows is one line with the closest known name."""

from __future__ import annotations

from typing import Any

from mgtrainer.config import hf_args, trl_args
from mgtrainer.config.aliases import ALIASES, SKIP, UNSUPPORTED, convert_stage, ignored_reason
from mgtrainer.config.aliases import IGNORED as IGNORED_KEYS, IGNORED_FAMILIES, family_reason
from mgtrainer.config.messages import SHOWN, cut, did_you_mean, key_text, show
from mgtrainer.config.reading import GROUPS, Entry
from mgtrainer.config.sections import SECTIONS
from mgtrainer.errors import MgtError
from mgtrainer.tasks import TASKS, config_classes
from mgtrainer.tasks import get as get_task


def task_name(entries: list[Entry]) -> str | None:
    name = None
    for entry in entries:
        if entry.path in (("task",), ("task", "name"), ("stage",)) and isinstance(entry.value, str):
            name = _convert(entry, convert_stage)
            if name not in TASKS:
                raise MgtError(f"{entry.where}: unknown task '{name}'{did_you_mean(name, TASKS)}; expected "
                               f"one of {', '.join(TASKS)}")
    return name


def task_defaults(tree: dict, task: str | None) -> None:
    """The task's own defaults (its module's DEFAULTS: {section: {field: value}}) where the run set nothing.
    They tune mgtrainer's own trainers: a run on another backend (llamafactory) keeps that backend's defaults."""
    from mgtrainer.tasks import get

    if tree.get("backend", "native") != "native":
        return
    for section, values in getattr(get(task), "DEFAULTS", {}).items() if task else ():
        if isinstance(tree.setdefault(section, {}), dict):
            for key, value in values.items():
                tree[section].setdefault(key, value)


def resolve(entries: list[Entry], task: str | None) -> tuple[dict, dict, list[str]]:
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
        elif loc == ("train", "hf_args") and isinstance(value, dict):  # beside names that land in it one by one
            tree.setdefault("train", {}).setdefault("hf_args", {}).update(value)
        else:
            _place(tree, loc, value)
    return tree, {loc: e.where for loc, e in origins.items()}, notes


def _place(tree: dict, loc: tuple, value) -> None:
    for key in loc[:-1]:
        tree = tree.setdefault(key, {})
    tree[loc[-1]] = value


def _at(tree: dict, loc: tuple):
    for key in loc:
        tree = tree[key]
    return tree


def _check_twice(previous: Entry | None, entry: Entry, loc: tuple, value, tree: dict) -> None:
    """The same field set twice under two names (e.g. max_length and cutoff_len) in one file, or in the overrides
    (`lora_rank=8 lora.rank=16`). An override of a file's value wins, as does a later override of the same name."""
    if previous is None or previous.origin != entry.origin or previous.path == entry.path:
        return
    old = _at(tree, loc)
    if old != value:
        raise MgtError(f"{entry.where}: '{entry.key}' sets {'.'.join(loc)} = {show(value)}, but "
                       f"{previous.where} ('{previous.key}') already set it to {show(old)}; keep one")


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
    if key == "model" and value is None:  # `model:` or `model=` left empty
        raise MgtError(f"{entry.where}: model is empty (model); expected a model folder, a hub id or a packaged "
                       "name (smollm2-135m-instruct), or a mapping with name_or_path")
    if key in GROUPS:
        raise MgtError(f"{entry.where}: '{key}' must be a mapping of {key} settings (or use "
                       f"flat keys); got {type(value).__name__} {show(value)}")
    return _flat(entry, task, notes)


def _flat(entry: Entry, task: str | None, notes: list[str]):
    key, value = entry.key, entry.value
    reason = ignored_reason(key, value)
    if reason:
        notes.append(f"{entry.where}: ignored '{key}' ({reason})")
        return None
    if key in UNSUPPORTED:
        return _off_or_refused(entry, notes, UNSUPPORTED[key])
    if key in ALIASES:
        target = ALIASES[key].target
        if target.startswith("task.") and target != "task.name" and task is not None:
            _task_field(Entry(("task", target[5:]), entry.value, entry.where, entry.origin), task, [], True)
        return _aliased(entry, ALIASES[key])  # (an alias of another task's field was refused just above)
    if key in FLAT:
        return (FLAT[key], key), value
    if key in TASK_FIELDS:
        return _task_field(entry, task, notes)
    if key in hf_args.KINDS:
        return _hf_arg(entry, key)
    if trl_args.owners(key):
        return _trl_arg(entry, key, task)
    why = family_reason(key)
    if why and key.startswith(IGNORED_FAMILIES):
        notes.append(f"{entry.where}: ignored '{key}' ({why})")
        return None
    if why:
        return _off_or_refused(entry, notes, why)
    hint = did_you_mean(key, ALL_NAMES) or "; expected a RunConfig field (see `mgtrainer config schema`)"
    raise MgtError(f"{entry.where}: unknown key '{key_text(key)}'{hint}")


def _off_or_refused(entry: Entry, notes: list[str], why: str) -> None:
    """A setting mgtrainer does not have: switched off (false or null, as a full LLaMA-Factory dump writes every
    key) it is a note; set, it is refused saying why."""
    if entry.value is None or entry.value is False:
        notes.append(f"{entry.where}: ignored '{entry.key}: {show(entry.value)}' (off; {why})")
        return None
    raise MgtError(f"{entry.where}: '{entry.key}' is not supported: {why}")


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
    if group == "train" and key in hf_args.KINDS:
        return _hf_arg(entry, key)
    if group == "train" and trl_args.owners(key):
        return _trl_arg(entry, key, task)
    home = _home(key)
    if home:
        raise MgtError(f"{entry.where}: '{key}' is not a {group} setting; it belongs in {home}")
    names = list(SECTIONS[group].model_fields) + [k for k, a in ALIASES.items()
                                                  if a.target.startswith(group + ".")]
    raise MgtError(f"{entry.where}: unknown key '{group}.{key_text(key)}'{did_you_mean(key, names)}; expected one "
                   f"of {', '.join(SECTIONS[group].model_fields)}")


def _hf_arg(entry: Entry, key: str):
    """Another TrainingArguments field: into train.hf_args, its kind checked here (config/hf_args.py)."""
    try:
        return ("train", "hf_args", key), hf_args.check(key, entry.value)
    except ValueError as err:
        said = str(err) if key in hf_args.REFUSED else f"{key}: {err}"
        raise MgtError(f"{entry.where}: {said}") from None


def _trl_arg(entry: Entry, key: str, task: str | None):
    """A field of the task's TRL config (config/trl_args.py): into train.trl_args; another task's is refused."""
    if key in trl_args.REFUSED:
        raise MgtError(f"{entry.where}: '{key}' is not taken: {trl_args.REFUSED[key]}")
    mine = getattr(get_task(task), "TRL_CONFIG", None) if task else None
    if mine and key in trl_args.FIELDS[mine]:
        return ("train", "trl_args", key), entry.value
    tasks = _trl_tasks(key)
    which = f"not of task '{task}'" if task else f"set task: {tasks[0]}"
    raise MgtError(f"{entry.where}: '{key}' is a setting of TRL's {', '.join(trl_args.owners(key))} (task "
                   f"{', '.join(tasks)}), {which}")


def _trl_tasks(key: str) -> list[str]:
    """The tasks whose TRL config (their module's TRL_CONFIG) has the field."""
    return [name for name in TASKS if getattr(get_task(name), "TRL_CONFIG", None) in trl_args.owners(key)]


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
    run_field = getattr(get_task(task), "RUN_ALIASES", {}).get(key) if task else None
    if run_field:  # a name another library gives this task, meaning one of the run's own settings
        group, field = run_field.split(".")
        notes.append(f"{entry.where}: '{key}' read as {run_field} (its meaning for task {task})")
        return (group, field), value
    owners = [name for name, names in by_task.items() if key in names]
    if owners and (value is None or value is False):
        notes.append(f"{entry.where}: ignored '{key}: {show(value)}' (task {task} has no {key})")
        return None
    if owners:
        which = f"not of task '{task}'" if task else f"set task: {owners[0]}"
        raise MgtError(f"{entry.where}: '{key}' is a setting of task {', '.join(owners)}, {which}")
    label = f"task.{key_text(key)}" if in_section else key_text(key)
    expected = ", ".join(fields) if fields else "the task's own fields"
    raise MgtError(f"{entry.where}: unknown key '{label}'{did_you_mean(key, fields)}; expected one of "
                   f"name, {expected}")


def _convert(entry: Entry, convert):
    try:
        return convert(entry.value)
    except (ValueError, TypeError) as err:
        raise MgtError(f"{entry.where}: invalid '{entry.key}' = {show(entry.value)}: {cut(err, SHOWN)}") from None


def _home(key: str) -> str | None:
    if key in ALIASES:
        return ALIASES[key].target
    if key in FLAT:
        return f"{FLAT[key]}.{key}"
    return None


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

ALL_NAMES = sorted(set(FLAT) | set(ALIASES) | TASK_FIELDS | set(GROUPS) | {"backend"} | set(hf_args.KINDS)
                   | {f"{s}.{f}" for s, m in SECTIONS.items() for f in m.model_fields})


def key_fate(key: str) -> tuple[str, str]:
    """What a flat key from another tool's config does here, in the order _flat resolves it: (kind, detail) with
    kind one of ignored, refused, alias, field, task, trainer (TrainingArguments via train.hf_args), trl (the task's
    TRL config via train.trl_args), unknown. It writes the table of references/config-keys.md
    (tools/config_keys.py); tests/config/test_config_keys.py checks each row against load_config itself."""
    if key in ("backend", "task", "model", "stage") or key in GROUPS:
        return "field", {"stage": "task.name", "model": "model.name_or_path", "task": "task.name"}.get(key, key)
    if key in IGNORED_KEYS:
        return "ignored", IGNORED_KEYS[key]
    if key in UNSUPPORTED:
        return "refused", UNSUPPORTED[key]
    if key in ALIASES:
        alias = ALIASES[key]
        return "alias", alias.target + (" (converted)" if alias.convert else "")
    if key in FLAT:
        return "field", f"{FLAT[key]}.{key}"
    owners = [name for name, names in task_fields().items() if key in names]
    by_run = [f"{name}: {get_task(name).RUN_ALIASES[key]}" for name in TASKS
              if key in getattr(get_task(name), "RUN_ALIASES", {})]
    if owners or by_run:
        return "task", "; ".join([f"task.{key} of {', '.join(owners)}"] * bool(owners) + by_run)
    if key in hf_args.KINDS:
        if key in hf_args.REFUSED:
            return "refused", hf_args.REFUSED[key]
        return "trainer", "train.hf_args"
    if key in trl_args.REFUSED:
        return "refused", trl_args.REFUSED[key]
    if trl_args.owners(key):
        return "trl", f"{', '.join(trl_args.owners(key))} ({', '.join(_trl_tasks(key))})"
    why = family_reason(key)
    if why:
        return ("ignored" if key.startswith(IGNORED_FAMILIES) else "refused"), why
    return "unknown", ""
