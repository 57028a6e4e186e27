"""Shared bits of the pure converters: the row error, the column/tag spec, and small type checks.

A converter raises `RowError(what, field, expected)`; the reader that knows the file and line turns
it into the one-line message `FILE:LINE: what (field); expected ...`.
"""

from __future__ import annotations

import json
import math
import reprlib
import sys
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 100  # lists/objects nested deeper than this in one row are refused (no real format needs it)
SHOWN = 120  # values quoted in a message are cut to about this many characters


class RowError(ValueError):
    """One row is wrong; `str(err)` is `what (field); expected ...` without the file:line prefix."""

    def __init__(self, what: str, field_: str, expected: str):
        super().__init__(f"{what} ({field_}); expected {expected}")


@dataclass(slots=True)
class Spec:
    """How to read rows of one source: format name plus LLaMA-Factory style column and tag maps.

    `columns` maps canonical names (prompt, query, response, history, system, tools, messages,
    chosen, rejected, kto_tag, text, label, ...) to the file's column names; missing entries mean the
    default or auto-detected column. `tags` is LLaMA-Factory's role_tag/content_tag/user_tag/... map.
    """

    format: str
    columns: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    ranking: bool = False
    cells: bool = False  # values come from CSV/TSV text cells (a JSON list in a cell is a list)
    cache: dict = field(default_factory=dict, repr=False)  # column layout per distinct key tuple


def layout(row: dict, spec: Spec, columns) -> tuple[dict, tuple, tuple]:
    """(columns, key order, unread column names) for rows with this key tuple, computed once."""
    key = tuple(row)
    lay = spec.cache.get(key)
    if lay is None:
        cols = columns(row, spec)
        used = set(cols.values())
        if len(spec.cache) > 256:  # rows with ever-changing keys: keep the cache small
            spec.cache.clear()
        lay = spec.cache[key] = (cols, key, tuple(k for k in key if k not in used))
    return lay


class NonFinite(ValueError):
    """NaN, Infinity or -Infinity in JSON text (Python's json accepts them; JSON does not)."""


def _refuse_constant(name: str):
    raise NonFinite(name)


class DuplicateKey(ValueError):
    """The same key twice in one JSON object, at any depth (Python's json would keep the last one silently)."""


def unique_object(pairs: list) -> dict:
    """A JSON object's dict; DuplicateKey when a key repeats (json's object_pairs_hook)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


STRICT = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=unique_object)
_DECODE = STRICT.decode


def loads(text: str) -> Any:
    """json.loads that refuses NaN/Infinity and repeated keys; ValueError (incl. NonFinite, DuplicateKey) or
    RecursionError otherwise."""
    return _DECODE(text)


def json_problem(err: BaseException) -> tuple[str, str]:
    """(what, expected) for a JSON text that `loads` refused."""
    if isinstance(err, NonFinite):
        return f"non-finite number {err}", "finite numbers (NaN and Infinity are not JSON)"
    if isinstance(err, DuplicateKey):
        return f"duplicate key {show(err.args[0], 60)}", "each key once per JSON object (JSON readers keep only one)"
    if isinstance(err, RecursionError):
        return "JSON nested too deeply", f"at most {MAX_DEPTH} levels of nested lists and objects"
    if isinstance(err, json.JSONDecodeError):
        return f"malformed JSON ({err.msg.removesuffix(' at')} at column {err.colno})", "valid JSON"
    if "digits" in str(err):  # int('9' * 5000): Python's guard against quadratic int parsing
        limit = sys.get_int_max_str_digits()
        return f"integer with more than {limit} digits", f"numbers of at most {limit} digits"
    return f"unreadable JSON ({show(str(err))})", "valid JSON"


def depth(value: Any) -> int:
    """How deeply lists/objects nest in `value` (iterative: safe on any depth)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = SHOWN
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 3, 6, 6


def show(value: Any, limit: int = SHOWN) -> str:
    """A value for a one-line message: repr(), bounded in depth and cut to about `limit` characters."""
    return cut(_REPR.repr(value), limit)


def shown_key(key) -> str:
    """A column name as a message shows it: a name mixing ASCII letters with other characters ('іnstruction' with
    a Cyrillic і) is escaped, so the look-alike shows; an all non-ASCII name (a Chinese column) is kept."""
    text = str(key)
    if not text.isascii() and any(c.isascii() and c.isalpha() for c in text):
        return text.encode("ascii", "backslashreplace").decode()
    return text


def shown_path(path) -> str:
    """A file name as a one-line message shows it: quoted and escaped when it holds a newline or another
    character that does not print (the message must stay one line, and say where the name ends)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def cut(text: str, limit: int = SHOWN) -> str:
    """One line of at most `limit` characters ('...' marks a cut)."""
    text = " ".join(str(text).split("\n"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "bool", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def need_str(value: Any, field_: str, allow_none: bool = False) -> str | None:
    if isinstance(value, str) or (allow_none and value is None):
        return value
    raise RowError(f"wrong type {type_name(value)}", field_, "a string")


def need_list(value: Any, field_: str, of: type | None = None, what: str = "a list") -> list:
    """A list (a JSON list inside a CSV cell is accepted), optionally of one item type."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = loads(value)
        except (ValueError, RecursionError) as err:
            raise RowError(json_problem(err)[0], field_, what) from None
    if not isinstance(value, list):
        raise RowError(f"wrong type {type_name(value)}", field_, what)
    if of is not None:
        for i, item in enumerate(value):
            if not isinstance(item, of) or isinstance(item, bool) and of is not bool:
                raise RowError(f"wrong type {type_name(item)}", f"{field_}[{i}]", what)
    return value


def need_scores(value: Any, field_: str, n: int) -> list[float] | None:
    if value is None:
        return None
    scores = need_list(value, field_, (int, float), "a list of numbers")
    if len(scores) != n:
        raise RowError(f"{len(scores)} scores for {n} passages", field_, "one score per passage")
    return [need_number(s, f"{field_}[{i}]", "a finite number") for i, s in enumerate(scores)]


def need_number(value: Any, field_: str, expected: str) -> float:
    """A finite int or float (not a bool, not NaN or infinite) as float."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise RowError(f"wrong type {type_name(value)} {show(value, 40)}", field_, expected)
    if not math.isfinite(value):
        raise RowError(f"non-finite number {value}", field_, expected)
    return float(value)


def pick(row: dict, names: tuple[str, ...]) -> str | None:
    """The first of `names` present in the row (column auto-detection)."""
    for name in names:
        if name in row:
            return name
    return None


def extra_columns(row: dict, used: set[str]) -> dict:
    """Columns the converter did not read, kept in meta so the own-format round trip is lossless."""
    return {k: v for k, v in row.items() if k not in used}


def finish_row(out: dict, meta: dict, fmt: str) -> dict:
    """Own-format writers: add back unread columns and the original column order."""
    if meta.get("format") != fmt:
        return out
    out.update(meta.get("extra", {}))
    order = meta.get("order")
    if order:  # a column of the row that no writer filled was a null optional column (e.g. "system": null)
        out = {k: out.get(k) for k in order} | {k: v for k, v in out.items() if k not in order}
    return out
