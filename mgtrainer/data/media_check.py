"""`data check` for media: open every image (PIL) and audio file (the standard `wave` module) and say
what is wrong as `FILE:LINE: ...` (missing, unreadable, wrong sample rate, too long). No torch here."""

from __future__ import annotations

import io
import wave

from mgtrainer.data.media import open_bytes
from mgtrainer.data.records import Media, Record

SAMPLE_RATE = 16000  # what Whisper-style feature extractors (Qwen2-Audio) expect
MAX_SECONDS = 30.0


def problem(m: Media, sample_rate: int = SAMPLE_RATE, max_seconds: float = MAX_SECONDS) -> str | None:
    """None when the file opens and fits; else one phrase saying what is wrong."""
    try:
        data = open_bytes(m)
    except (OSError, ValueError) as err:
        return f"unreadable {m.kind} {m.ref[:80]}: {err}"
    if data is None:
        return (f"missing {m.kind} file {m.ref} (relative paths resolve against the data file's folder or "
                "data.media_dir)")
    return _image(m, data) if m.kind == "image" else _audio(m, data, sample_rate, max_seconds)


def _image(m: Media, data: bytes) -> str | None:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        from mgtrainer.errors import MgtError

        raise MgtError("checking images needs Pillow; expected `mgtrainer env run train -- mgtrainer data check ...`") \
            from None

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except (UnidentifiedImageError, OSError, ValueError) as err:
        return f"unreadable image {m.ref[:80]}: {str(err).splitlines()[0][:120]}"
    return None


def _audio(m: Media, data: bytes, sample_rate: int, max_seconds: float) -> str | None:
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate, frames = w.getframerate(), w.getnframes()
    except (wave.Error, EOFError) as err:
        return f"unreadable audio {m.ref[:80]} (expected a PCM .wav): {err}"
    if rate != sample_rate:
        return f"wrong sample rate {rate} Hz in {m.ref[:80]}; expected {sample_rate} Hz (resample it)"
    if frames / rate > max_seconds:
        return f"audio {m.ref[:80]} is {frames / rate:.1f} s long; expected at most {max_seconds:g} s"
    return None


def check_media(rec: Record) -> list[tuple[str, str]]:
    """(source, problem) for each media file of the record that does not open or fit."""
    return [(rec.source, p) for m in rec.media if (p := problem(m))]
