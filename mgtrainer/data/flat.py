"""Non-chat rows: pretraining text, classification (text + label), embedding (query + pos/neg),
rerank (query + passages with labels) and MDL-Toolkit CSV rows (system_prompt, user_prompt,
prediction; the string "null" means absent)."""

from __future__ import annotations

import json

from mgtrainer.data.base import (RowError, Spec, extra_columns, finish_row, json_problem, loads, need_list, need_number,
                                 need_scores, need_str, pick)
from mgtrainer.data.chat import label_out, norm_label
from mgtrainer.data.records import Message, Record

TEXT_COLS = ("text", "content", "prompt")
LABEL_COLS = ("label", "labels")
QUERY_COLS = ("query", "anchor", "question")
POS_COLS = ("pos", "positive", "positives")
NEG_COLS = ("neg", "negative", "negatives")


def _text(row: dict, col: str | None, what: str) -> str:
    if col not in row:
        raise RowError("missing required column", col or "text", what)
    text = need_str(row[col], col)
    if not text.strip():
        raise RowError("empty text", col, "a non-empty string")
    return text


def parse_text(row: dict, spec: Spec, kind: str | None = None) -> Record:
    col = spec.columns.get("text") or pick(row, TEXT_COLS)
    meta = {"format": "text", "order": list(row), "col": col, "extra": extra_columns(row, {col})}
    return Record("text", text=_text(row, col, "a text column with the document"), meta=meta)


def write_text(rec: Record) -> dict:
    if rec.text is None:
        raise RowError(f"{rec.kind} records cannot be written as text", "kind", "text records")
    own = rec.meta.get("format") == "text"
    return finish_row({rec.meta["col"] if own else "text": rec.text}, rec.meta, "text")


def parse_classify(row: dict, spec: Spec, kind: str | None = None) -> Record:
    tcol = spec.columns.get("text") or pick(row, TEXT_COLS)
    lcol = spec.columns.get("label") or pick(row, LABEL_COLS)
    meta = {"format": "classify", "order": list(row), "cols": (tcol, lcol)}
    if lcol not in row:
        raise RowError("missing required column", lcol or "label", "text and label columns")
    label = row[lcol]
    if isinstance(label, str) and label.startswith("[") and spec.cells:
        label, meta["label_json"] = _label_list(label, lcol), True
    meta["extra"] = extra_columns(row, {tcol, lcol})
    rec = Record("classify", text=_text(row, tcol, "text and label columns"), meta=meta)
    rec.label = norm_label(label, lcol, meta)
    return rec


def _label_list(cell: str, col: str) -> list:
    """A CSV cell starting with '[' is a multi-label JSON list."""
    expected = 'a label, or a JSON list of labels such as ["a", "b"]'
    try:
        labels = loads(cell)
    except (ValueError, RecursionError) as err:
        raise RowError(f"label starts with '[' but is not a JSON list: {json_problem(err)[0]}", col, expected) \
            from None
    if not isinstance(labels, list):
        raise RowError("label starts with '[' but is not a JSON list", col, expected)
    return labels


def write_classify(rec: Record) -> dict:
    if rec.kind != "classify":
        raise RowError(f"{rec.kind} records cannot be written as classify", "kind", "classify records")
    own = rec.meta.get("format") == "classify"
    tcol, lcol = rec.meta["cols"] if own else ("text", "label")
    label = label_out(rec.label, rec.meta)
    if own and rec.meta.get("label_json"):
        label = json.dumps(label, ensure_ascii=False)
    text = rec.text if rec.text is not None else rec.messages[-1].content
    return finish_row({tcol: text, lcol: label}, rec.meta, "classify")


def _negatives(row: dict) -> tuple[list[str], list[str]]:
    """Column names holding negatives: neg/negative/negatives or negative_1..N (in order)."""
    col = pick(row, NEG_COLS)
    numbered = sorted((k for k in row if k.startswith("negative_") and k[9:].isdigit()), key=lambda k: int(k[9:]))
    return ([col] if col else []) + numbered


def _texts(value, field: str) -> list[str]:
    return [value] if isinstance(value, str) else need_list(value, field, str, "a list of strings")


def parse_embed(row: dict, spec: Spec, kind: str | None = None) -> Record:
    qcol, pcol = pick(row, QUERY_COLS), pick(row, POS_COLS)
    if qcol is None or pcol is None:
        raise RowError("missing required column", "query" if qcol is None else "pos", "query, pos and neg columns")
    ncols = _negatives(row)
    meta = {"format": "embed", "order": list(row), "cols": (qcol, pcol, ncols),
            "str": [c for c in [pcol, *ncols] if isinstance(row[c], str)]}
    rec = Record("embed", query=need_str(row[qcol], qcol), meta=meta)
    rec.pos = _texts(row[pcol], pcol)
    if not rec.pos:
        raise RowError("no positive passage", pcol, "at least one positive")
    rec.neg = [t for c in ncols for t in _texts(row[c], c)]
    rec.pos_scores = need_scores(row.get("pos_scores"), "pos_scores", len(rec.pos))
    rec.neg_scores = need_scores(row.get("neg_scores"), "neg_scores", len(rec.neg))
    rec.prompt = need_str(row.get("prompt"), "prompt", allow_none=True)
    used = {qcol, pcol, *ncols} | {k for k in ("pos_scores", "neg_scores", "prompt") if row.get(k) is not None}
    meta["raw_scores"] = {k: row[k] for k in ("pos_scores", "neg_scores") if row.get(k) is not None}
    meta["extra"] = extra_columns(row, used)
    return rec


def write_embed(rec: Record) -> dict:
    if rec.kind != "embed":
        raise RowError(f"{rec.kind} records cannot be written as embed", "kind", "embed records")
    meta = rec.meta
    if meta.get("format") != "embed":
        out = {"query": rec.query, "pos": rec.pos, "neg": rec.neg or []}
        out |= {k: v for k in ("pos_scores", "neg_scores", "prompt") if (v := getattr(rec, k)) is not None}
        return out
    qcol, pcol, ncols = meta["cols"]
    out = {qcol: rec.query, pcol: rec.pos[0] if pcol in meta["str"] else rec.pos}
    rest = list(rec.neg)
    for c in ncols:  # single-string columns take one negative each, a list column takes the rest
        out[c] = rest.pop(0) if c in meta["str"] else rest
        rest = rest if c in meta["str"] else []
    out |= meta["raw_scores"]
    if rec.prompt is not None:
        out["prompt"] = rec.prompt
    return finish_row(out, meta, "embed")


def _passage(p, where: str) -> tuple[str, float, float | None]:
    if not isinstance(p, dict):
        raise RowError(f"wrong type {type(p).__name__}", where, "a passage object {text, label}")
    text = need_str(p.get("text"), f"{where}.text")
    label = p.get("label")
    if not isinstance(label, (int, float)) or isinstance(label, bool):
        raise RowError("missing or non-numeric label", f"{where}.label", "a relevance number, e.g. 0 or 1")
    label = need_number(label, f"{where}.label", "a relevance number, e.g. 0 or 1")
    score = p.get("score")
    return text, label, None if score is None else need_number(score, f"{where}.score", "a teacher score (a number)")


def parse_rerank(row: dict, spec: Spec, kind: str | None = None) -> Record:
    for col in ("query", "passages"):
        if col not in row:
            raise RowError("missing required column", col, "query and passages: [{text, label}, ...]")
    meta = {"format": "rerank", "order": list(row)}
    rec = Record("rerank", query=need_str(row["query"], "query"), meta=meta)
    items = need_list(row["passages"], "passages", dict, "a list of passage objects {text, label}")
    if not items:
        raise RowError("no passages", "passages", "at least one passage")
    parsed = [_passage(p, f"passages[{i}]") for i, p in enumerate(items)]
    rec.passages, rec.labels = [p[0] for p in parsed], [p[1] for p in parsed]
    if any(p[2] is not None for p in parsed):
        rec.scores = [p[2] for p in parsed]
    meta["int_labels"] = all(isinstance(p["label"], int) for p in items)
    meta["p_extra"] = {i: e for i, p in enumerate(items) if (e := {k: v for k, v in p.items()
                                                                  if k not in ("text", "label", "score")})}
    meta["extra"] = extra_columns(row, {"query", "passages"})
    return rec


def write_rerank(rec: Record) -> dict:
    if rec.kind != "rerank":
        raise RowError(f"{rec.kind} records cannot be written as rerank", "kind", "rerank records")
    own = rec.meta.get("format") == "rerank"
    items = []
    for i, (text, label) in enumerate(zip(rec.passages, rec.labels)):
        p = {"text": text, "label": int(label) if own and rec.meta["int_labels"] else label}
        if rec.scores is not None and rec.scores[i] is not None:
            p["score"] = rec.scores[i]
        items.append(p | (rec.meta["p_extra"].get(i, {}) if own else {}))
    return finish_row({"query": rec.query, "passages": items}, rec.meta, "rerank")


def _null(row: dict, col: str) -> str | None:
    value = row.get(col)
    return None if value is None or value == "null" else need_str(value, col)


def parse_mdl(row: dict, spec: Spec, kind: str | None = None) -> Record:
    """The audio toolkit's CSV: audio (a path; the user turn gets an <audio> placeholder in front),
    system_prompt, user_prompt ("null" or absent with audio: none) and prediction."""
    meta = {"format": "mdl", "order": list(row),
            "nulls": {c: row[c] for c in ("system_prompt", "user_prompt", "prediction")
                      if c in row and _null(row, c) is None}}
    meta["extra"] = extra_columns(row, {"system_prompt", "user_prompt", "prediction", "audio"})
    user, system, pred = _null(row, "user_prompt"), _null(row, "system_prompt"), _null(row, "prediction")
    media = []
    if _null(row, "audio") is not None:
        from mgtrainer.data.media import PLACEHOLDER, column_media

        media, user = column_media(row, "audio", "audio"), PLACEHOLDER["audio"] + (user or "")
    if user is None:
        raise RowError("missing user prompt", "user_prompt", "the prompt text (\"null\" only for system_prompt)")
    if pred is None:
        raise RowError("missing prediction", "prediction", "the answer or label for each training row")
    msgs = ([Message("system", system)] if system is not None else []) + [Message("user", user)]
    if kind == "classify":
        return Record("classify", messages=msgs if system is not None else [], text=user, label=pred, meta=meta,
                      media=media)
    return Record("chat", messages=msgs + [Message("assistant", pred)], meta=meta, media=media)


def write_mdl(rec: Record) -> dict:
    if rec.kind not in ("chat", "classify"):
        raise RowError(f"{rec.kind} records cannot be written as mdl", "kind", "chat or classify records")
    nulls = rec.meta.get("nulls", {}) if rec.meta.get("format") == "mdl" else {}
    system = rec.messages[0].content if rec.messages and rec.messages[0].role == "system" else None
    if rec.kind == "classify":
        user, pred = rec.text, rec.label
    else:
        user, pred = rec.messages[-2].content, rec.messages[-1].content
    out = {"system_prompt": system if system is not None else nulls.get("system_prompt", "null"),
           "user_prompt": user, "prediction": pred}
    audio = [m.ref for m in rec.media if m.kind == "audio"]
    if audio:
        from mgtrainer.data.media import PLACEHOLDER

        out = {"audio": audio[0], **out, "user_prompt": user.replace(PLACEHOLDER["audio"], "", 1)}
        out["user_prompt"] = out["user_prompt"] or nulls.get("user_prompt", "null")
        for col in ("system_prompt", "user_prompt"):  # an audio,prediction CSV stays that
            if rec.meta.get("format") == "mdl" and col not in rec.meta["order"] and out[col] == "null":
                del out[col]
    return finish_row(out, rec.meta, "mdl")
