"""Media references -> bytes, images, audio arrays and OpenAI content parts. Light: numpy and PIL are
imported inside the functions; no torch. Shared by the data layer (writers, `data check`), the media
training flow and the media task's serving (`<image>` / `<audio>` placeholders, references/media.md)."""

from __future__ import annotations

import base64
import io
import re
import wave
from pathlib import Path

_TOKENS = re.compile("<image>|<audio>")


def to_part(media, text: str = "") -> dict:
    """Media -> an OpenAI content part (image_url with the ref; input_audio with base64 data or the path)."""
    if media.kind == "image":
        return {"type": "image_url", "image_url": {"url": media.ref}}
    ref = media.ref
    if ref.startswith("data:"):
        head, data = ref.split(",", 1)
        return {"type": "input_audio", "input_audio": {"data": data, "format": head[11:].split(";")[0]}}
    return {"type": "input_audio", "input_audio": {"data": ref, "format": Path(ref).suffix[1:] or "wav"}}


def content_parts(content: str, media: list) -> list[dict] | str:
    """A content string with placeholders -> OpenAI content parts (media consumed from the front)."""
    if not _TOKENS.search(content):
        return content
    parts, pos = [], 0
    for m in _TOKENS.finditer(content):
        if m.start() > pos:
            parts.append({"type": "text", "text": content[pos:m.start()]})
        parts.append(to_part(media.pop(0)))
        pos = m.end()
    if pos < len(content):
        parts.append({"type": "text", "text": content[pos:]})
    return parts


def open_bytes(m) -> bytes | None:
    """The file's bytes (a data: URL decoded); None when missing."""
    if m.path.startswith("data:"):
        return base64.b64decode(m.path.split(",", 1)[1])
    p = Path(m.path)
    return p.read_bytes() if p.is_file() else None


def read_audio(m):
    """A mono float32 numpy array of a PCM .wav."""
    import numpy as np

    with wave.open(io.BytesIO(open_bytes(m))) as w:
        width, channels, raw = w.getsampwidth(), w.getnchannels(), w.readframes(w.getnframes())
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}[width]
    x = np.frombuffer(raw, dtype=dtype).astype(np.float32)
    x = (x - 128) / 128 if width == 1 else x / float(2 ** (8 * width - 1))
    return x.reshape(-1, channels).mean(axis=1)


def read_image(m):
    """An RGB PIL image."""
    from PIL import Image

    return Image.open(io.BytesIO(open_bytes(m))).convert("RGB")


def probe_parts(kinds) -> list[dict]:
    """One OpenAI content part per media kind, made here and inlined as a data: URL (no file, no hub):
    image: a 28x28 RGB gradient PNG; audio: 0.5 s of a 440 Hz sine, 16 kHz 16-bit mono WAV."""
    import numpy as np

    parts = []
    if "image" in kinds:
        from PIL import Image

        ramp = np.linspace(0, 255, 28, dtype=np.uint8)
        pix = np.stack([np.add.outer(ramp, ramp) // 2, np.tile(ramp, (28, 1)), np.tile(ramp, (28, 1)).T], axis=-1)
        buf = io.BytesIO()
        Image.fromarray(pix.astype(np.uint8)).save(buf, format="PNG")
        parts.append({"type": "image_url",
                      "image_url": {"url": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()}})
    if "audio" in kinds:
        rate = 16000
        t = np.arange(rate // 2) / rate
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes((0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes())
        parts.append({"type": "input_audio", "input_audio": {"data": base64.b64encode(buf.getvalue()).decode(),
                                                             "format": "wav"}})
    return parts
