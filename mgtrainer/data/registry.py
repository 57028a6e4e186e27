"""LLaMA-Factory's dataset_info.json, read as it is: a dataset name -> file_name, formatting, columns,
tags, ranking. Names from `data.train`/`data.eval` resolve to (path, Spec) through it."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from mgtrainer.data.base import DuplicateKey, Spec, show, unique_object
from mgtrainer.data.readers import EXTENSIONS, check_exists, check_path
from mgtrainer.errors import MgtError

INFO = "dataset_info.json"


LISTED = 10_000  # names of a folder compared for a 'nearest' hint, at most


def nearest(path: Path) -> str:
    """' (nearest: P)': the closest existing name to a mistyped path, in the deepest folder of it that exists."""
    folder = Path(path.anchor or ".")
    for part in path.parts[1:] if path.anchor else path.parts:
        step = folder / part
        if not step.exists():
            try:
                names = [p.name for _, p in zip(range(LISTED), folder.iterdir())]
            except OSError:
                return ""
            close = difflib.get_close_matches(part, names, n=1, cutoff=0.6)
            return f" (nearest: {folder / close[0]})" if close else ""
        folder = step
    return ""


def load_info(dataset_dir: Path) -> dict:
    path = dataset_dir / INFO
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=unique_object)
    except DuplicateKey as err:
        raise MgtError(f"{path}:1: dataset {show(err.args[0], 60)} defined twice (or a key repeated in an entry) "
                       "(file); expected each name once") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise MgtError(f"{path}:1: unreadable dataset registry ({err}) (file); expected LLaMA-Factory's "
                       "dataset_info.json") from None
    if not isinstance(info, dict):
        raise MgtError(f"{path}:1: wrong type (file); expected an object of dataset entries")
    return info


def entry_spec(name: str, entry: dict, path: Path) -> Spec:
    """A dataset_info.json entry -> a Spec for our converters (LF's formatting defaults to alpaca)."""
    formatting = entry.get("formatting", "alpaca")
    if formatting not in ("alpaca", "sharegpt", "openai"):
        raise MgtError(f"{path}:1: unknown formatting {show(formatting, 60)} ({name}.formatting); expected alpaca or "
                       "sharegpt")
    columns, tags = _names_map(entry, "columns", name, path), _names_map(entry, "tags", name, path)
    if formatting == "alpaca" and set(columns) == {"prompt"}:  # pretraining: LF reads the prompt column as text
        return Spec("text", {"text": columns["prompt"]})
    fmt = "messages" if formatting == "openai" else formatting
    return Spec(fmt, columns, tags, bool(entry.get("ranking")))


def _names_map(entry: dict, key: str, name: str, path: Path) -> dict[str, str]:
    """An entry's `columns` or `tags`: an object of names."""
    value = entry.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        example = '{"prompt": "instruction"}' if key == "columns" else '{"role_tag": "from"}'
        raise MgtError(f"{path}:1: wrong {key} {show(value, 60)} ({name}.{key}); expected an object of names, "
                       f"e.g. {example}")
    return value


def _entry(info: dict, name: str, path: Path) -> dict:
    entry = info[name]
    if not isinstance(entry, dict):
        raise MgtError(f"{path}:1: dataset '{name}' is a {type(entry).__name__}, not an object ({name}); expected "
                       "an object with file_name, formatting, columns, ...")
    if "file_name" in entry and not isinstance(entry["file_name"], str):
        raise MgtError(f"{path}:1: wrong file_name {show(entry['file_name'], 60)} ({name}.file_name); expected a "
                       "file or folder name under dataset_dir")
    return entry


# Entry keys that change which rows of a local file train, and what LLaMA-Factory does with them: refused by name
# rather than ignored (an ignored num_samples would train on every row).
ROW_CHANGES = {"num_samples": "LF samples this many rows; use data.max_samples",
               "subset": "a subset of a hub dataset", "folder": "a folder of a hub dataset"}


def _refuse_row_changes(entry: dict, name: str, path: Path) -> None:
    for key, what in ROW_CHANGES.items():
        if key in entry:
            raise MgtError(f"{path}:1: {name}.{key} is not supported for a local file ({what}); expected the "
                           "entry without it")
    if entry.get("split", "train") != "train":
        raise MgtError(f"{path}:1: {name}.split {show(entry['split'], 40)} is not supported for a local file (LF "
                       "reads the file as its train split); expected split: train or no split")


def resolve(name: str, dataset_dir: str | Path | None, field: str) -> tuple[Path, Spec | None]:
    """A file/folder path, or a dataset name in dataset_dir/dataset_info.json."""
    base = Path(dataset_dir) if dataset_dir else Path(".")
    check_path(Path(name), field)
    for candidate in (Path(name), base / name):
        if candidate.exists():
            return candidate, None
        if candidate.is_symlink():  # broken or looping: say so rather than "unknown dataset"
            check_exists(candidate, field)
    if dataset_dir and not base.is_dir():
        raise MgtError(f"{base}: no such folder (data.dataset_dir); expected the folder of dataset_info.json"
                       f"{nearest(base)}")
    info = load_info(base)
    if name not in info and (("/" in name or Path(name).suffix.lower() in EXTENSIONS) or not info):
        raise MgtError(f"{name}: no such file ({field}); expected an existing file or folder"
                       + (f", or a dataset name in {base / INFO}" if info else "") + nearest(Path(name)))
    if name not in info:
        near = difflib.get_close_matches(name, list(info), n=1)
        hint = f" (nearest: {near[0]})" if near else ""
        raise MgtError(f"{base / INFO}:1: unknown dataset '{name}'{hint} ({field}); expected a file, a folder, "
                       f"or a name in {base / INFO}")
    entry = _entry(info, name, base / INFO)
    if "file_name" not in entry:
        hub = next((k for k in ("hf_hub_url", "ms_hub_url", "om_hub_url") if k in entry), "file_name")
        raise MgtError(f"{base / INFO}:1: dataset '{name}' has no local file ({name}.{hub}); expected a file_name "
                       "under dataset_dir (download it first)")
    _refuse_row_changes(entry, name, base / INFO)
    path = base / entry["file_name"]
    if not path.resolve().is_relative_to(base.resolve()):
        raise MgtError(f"{base / INFO}:1: file of dataset '{name}' is outside dataset_dir: {path} ({name}.file_name); "
                       "expected a file or folder under dataset_dir (or its path in data.train directly)")
    if not path.exists():
        raise MgtError(f"{base / INFO}:1: file of dataset '{name}' not found: {path} ({name}.file_name); "
                       "expected an existing file or folder")
    return path, entry_spec(name, entry, base / INFO)
