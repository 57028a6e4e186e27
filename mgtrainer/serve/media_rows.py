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
    if "utt" in row and "audio" in row:  # a wav.scp line: the ASR prompt the model was trained with
        fmt, data = "asr", {"utt": row["utt"], "audio": row["audio"]}
    if fmt not in ("mdl", "asr", "messages", "sharegpt"):
        raise MgtError(f"{row.where}: cannot read a media prompt from columns {', '.join(list(row)[:8])}; "
                       "expected audio (+ user_prompt), or messages with image_url / input_audio parts")
    if fmt in ("messages", "sharegpt"):  # a prompt without its answer: the parser wants a last assistant turn
        data = _with_answer(dict(row), fmt)
    try:
        rec = FORMATS[fmt].parse(data, Spec(fmt))
    except RowError as err:
        raise MgtError(f"{row.where}: {err}") from None
    while rec.messages and rec.messages[-1].role == "assistant":
        rec.messages.pop()
    rec.source = row.where
    resolve(rec, Path(row.where.rsplit(":", 1)[0]).resolve().parent)
    return rec


def _with_answer(row: dict, fmt: str) -> dict:
    key, role, turn = (("messages", "role", {"role": "assistant", "content": "-"}) if fmt == "messages" else
                       ("conversations", "from", {"from": "gpt", "value": "-"}))
    turns = row.get(key)
    if isinstance(turns, list) and turns and isinstance(turns[-1], dict) and turns[-1].get(role) not in (
            "assistant", "gpt"):
        row[key] = [*turns, turn]
    return row


def scp_rows(path: Path):
    """(where, row) per wav.scp line: utt, audio (relative to wav.scp), reference text when `text` is beside it
    (kept as `reference`, so the prompt is only the audio)."""
    from mgtrainer.data.base import RowError
    from mgtrainer.data.kaldi import read_scp

    for where, row in read_scp(path):
        if isinstance(row, RowError):
            raise MgtError(f"{where}: {row}")
        row = dict(row)
        audio = Path(row["audio"])
        row["audio"] = str(audio if audio.is_absolute() else (path.parent / audio).resolve())
        if "text" in row:
            row["reference"] = row.pop("text")
        yield where, row


def error_rates(rows: list[dict]) -> dict | None:
    """WER/CER of `prediction` against `reference` when the rows have references."""
    from mgtrainer.driver.metrics import error_rates as rates, norm

    pairs = [(norm(r["reference"]), norm(r.get("prediction", ""))) for r in rows if r.get("reference") is not None]
    if not pairs:
        return None
    return rates([p[0] or "-" for p in pairs], [p[1] for p in pairs])
