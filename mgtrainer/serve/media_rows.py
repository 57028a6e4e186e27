"""predict rows with media -> chat records (the data layer's parsers), paths relative to the input file."""

from __future__ import annotations

from pathlib import Path

from mgtrainer.errors import MgtError


def row_record(row):
    """The toolkit CSV (audio, system_prompt, user_prompt, prediction), speech rows (audio [+ text]) or
    messages with content parts -> a Record whose media paths are resolved; the answer columns
    (prediction / a trailing assistant turn) are dropped so the prompt is what is sent."""
    from mgtrainer.data.base import RowError, Spec
    from mgtrainer.data.formats import FORMATS, detect
    from mgtrainer.data.media import resolve

    data = {k: v for k, v in row.items() if k != "prediction"} | {"prediction": "-"}
    fmt = detect(data)
    if fmt not in ("mdl", "asr", "messages", "sharegpt"):
        raise MgtError(f"{row.where}: cannot read a media prompt from columns {', '.join(list(row)[:8])}; "
                       "expected audio (+ user_prompt), or messages with image_url / input_audio parts")
    try:
        rec = FORMATS[fmt].parse(data if fmt == "mdl" else dict(row), Spec(fmt))
    except RowError as err:
        raise MgtError(f"{row.where}: {err}") from None
    while rec.messages and rec.messages[-1].role == "assistant":
        rec.messages.pop()
    rec.source = row.where
    resolve(rec, Path(row.where.rsplit(":", 1)[0]).resolve().parent)
    return rec
