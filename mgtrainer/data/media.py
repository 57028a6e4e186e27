"""Media references in records (no torch): OpenAI content parts, LLaMA-Factory `images`/`audios` columns,
placeholders, path resolution, and opening the files for `data check`.

A record's message contents carry `<image>` / `<audio>` placeholders in order; `Record.media[i]` is the
i-th placeholder's file. Paths resolve relative to the data file's folder, or `data.media_dir` when given;
http(s) URLs are refused (no network); `data:` URLs are kept as they are and decoded when opened.
"""

from __future__ import annotations

import re
from pathlib import Path

from mgtrainer.data.base import RowError, need_list
from mgtrainer.data.records import Media, Record
from mgtrainer.media_io import content_parts, open_bytes, to_part  # noqa: F401 (light: no torch)

PLACEHOLDER = {"image": "<image>", "audio": "<audio>"}
COLUMNS = {"image": "images", "audio": "audios"}  # LLaMA-Factory's column names
_TOKENS = re.compile("|".join(re.escape(t) for t in PLACEHOLDER.values()))
AUDIO_FORMATS = ("wav", "mp3", "flac")


def placeholders(rec: Record) -> list[str]:
    """The media kinds the record's turns name, in order."""
    turns = list(rec.messages) + list(rec.chosen or []) + list(rec.rejected or [])
    text = "".join(m.content for m in turns) + (rec.text or "")
    kind_of = {v: k for k, v in PLACEHOLDER.items()}
    return [kind_of[t] for t in _TOKENS.findall(text)]


def check_count(rec: Record, where: str) -> None:
    """Placeholders and media must match kind by kind; rec.media is put in placeholder order (the i-th
    image file goes with the i-th <image>)."""
    want, have = placeholders(rec), [m.kind for m in rec.media]
    by_kind = {k: [m for m in rec.media if m.kind == k] for k in PLACEHOLDER}
    if any(want.count(k) != len(v) for k, v in by_kind.items()):
        raise RowError(f"{len(want)} placeholders ({', '.join(want) or 'none'}) but {len(have)} media "
                       f"({', '.join(have) or 'none'})", where,
                       "one <image>/<audio> placeholder in the text per file, in the same order")
    rec.media = [by_kind[k].pop(0) for k in want]


def column_media(row: dict, col: str, kind: str) -> list[Media]:
    """A list column of paths (or one path string) -> Media."""
    value = row[col]
    refs = [value] if isinstance(value, str) and not value.startswith("[") else need_list(value, col, str,
                                                                                      "a list of file paths")
    return [Media(kind, _ref(r, f"{col}[{i}]")) for i, r in enumerate(refs)]


def _ref(ref: str, where: str) -> str:
    if re.match(r"https?://", ref, re.I):
        raise RowError(f"URL {ref[:80]}", where, "a local file path or a data: URL (no network; download the file "
                       "and point at it, relative to the data file or data.media_dir)")
    if not ref.strip():
        raise RowError("empty media path", where, "a local file path")
    return ref


def from_part(part: dict, where: str) -> tuple[str, Media] | None:
    """One OpenAI content part: (placeholder, Media) for image_url / input_audio, None for text."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text" and isinstance(part.get("text"), str):
        return None
    if kind == "image_url":
        url = part.get("image_url")
        url = url.get("url") if isinstance(url, dict) else url
        if not isinstance(url, str):
            raise RowError("image_url part without url", f"{where}.image_url.url", "a path or data: URL string")
        return PLACEHOLDER["image"], Media("image", _ref(url, f"{where}.image_url.url"))
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        data, fmt = audio.get("data"), audio.get("format", "wav")
        if not isinstance(data, str) or fmt not in AUDIO_FORMATS:
            raise RowError("input_audio part without data/format", f"{where}.input_audio",
                           '{"data": base64 or a file path, "format": "wav"}')
        ref = data if _is_path(data) else f"data:audio/{fmt};base64,{data}"
        return PLACEHOLDER["audio"], Media("audio", _ref(ref, f"{where}.input_audio.data"))
    raise RowError(f"unsupported content part {str(kind)[:40]}", where, "text, image_url or input_audio parts")


def _is_path(data: str) -> bool:
    """A file path rather than base64 (which never contains '.'): short and ending in an audio suffix."""
    return len(data) < 1024 and data.lower().endswith(tuple("." + f for f in AUDIO_FORMATS))


def resolve(rec: Record, base: Path, media_dir: str | None = None) -> None:
    """Set each Media.path: data: URLs stay, relative paths join media_dir (if given) or the data file's folder."""
    root = Path(media_dir).expanduser() if media_dir else base
    for m in rec.media:
        if m.ref.startswith("data:"):
            m.path = m.ref
        else:
            p = Path(m.ref).expanduser()
            m.path = str(p if p.is_absolute() else (root / p).resolve())


def modalities(records) -> set[str]:
    return {m.kind for rec in records for m in rec.media}
