"""Speech rows: `audio` (a file path) + `text` (the transcript), optionally `utt` (an utterance id) and
`prompt`; Kaldi-style `wav.scp` (`UTT PATH` per line) + `text` (`UTT TRANSCRIPT`) beside it read as these
rows. A row becomes a chat record: user `<audio>` (+ the prompt), assistant the transcript."""

from __future__ import annotations

from pathlib import Path

from mgtrainer.data.base import RowError, extra_columns, finish_row, need_str
from mgtrainer.data.records import Message, Record
from mgtrainer.errors import MgtError

PROMPT = "Transcribe the audio."


def parse(row: dict, spec, kind: str | None = None) -> Record:
    from mgtrainer.data.media import PLACEHOLDER, column_media

    if "audio" not in row:
        raise RowError("missing required column", "audio", "audio (a .wav path) and text (the transcript)")
    prompt = need_str(row.get("prompt") or PROMPT, "prompt")
    text = need_str(row.get("text"), "text", allow_none=True)
    meta = {"format": "asr", "order": list(row), "extra": extra_columns(row, {"audio", "text", "prompt", "utt"}),
            "utt": row.get("utt"), "prompt": row.get("prompt")}
    msgs = [Message("user", PLACEHOLDER["audio"] + prompt)]
    if text is not None:
        msgs.append(Message("assistant", text))
    return Record("chat", messages=msgs, media=column_media(row, "audio", "audio"), meta=meta)


def write(rec: Record) -> dict:
    audio = [m.ref for m in rec.media if m.kind == "audio"]
    if rec.kind != "chat" or len(audio) != 1:
        raise RowError(f"{rec.kind} record with {len(audio)} audio files", "audio", "chat records with one audio")
    own = rec.meta.get("format") == "asr"
    out = {"utt": rec.meta["utt"]} if own and rec.meta.get("utt") is not None else {}
    out |= {"audio": audio[0], "text": rec.messages[-1].content if rec.messages[-1].role == "assistant" else None}
    if own and rec.meta.get("prompt") is not None:
        out["prompt"] = rec.meta["prompt"]
    return finish_row(out, rec.meta, "asr")


def _table(path: Path) -> list[tuple[int, str, str]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            key, _, rest = line.strip().partition(" ")
            rows.append((n, key, rest.strip()))
    return rows


def read_scp(path: Path):
    """(source, row) per wav.scp line; transcripts from the `text` file beside it when there is one.
    Paths are as written (the loader resolves them relative to wav.scp's folder)."""
    text_file = path.with_name("text")
    texts = {k: v for _, k, v in _table(text_file)} if text_file.is_file() else {}
    for n, utt, wav in _table(path):
        if not wav:
            yield f"{path}:{n}", RowError("no path after the utterance id", "wav.scp", "UTT PATH per line")
            continue
        if wav.endswith("|"):
            raise MgtError(f"{path}:{n}: a piped command ({wav[:60]}) (wav.scp); expected a .wav file path")
        row = {"utt": utt, "audio": wav}
        if texts:
            if utt not in texts:
                yield f"{path}:{n}", RowError(f"utterance {utt} has no line in {text_file}", "text",
                                              "one transcript per wav.scp id")
                continue
            row["text"] = texts[utt]
        yield f"{path}:{n}", row
