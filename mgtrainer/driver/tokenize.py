"""Records -> token ids with per-role loss masks (labels = -100 where not trained).

Chat: the whole conversation is rendered once with the tokenizer's chat template; each assistant turn's
character span is found by rendering the prefix before it (with the generation prompt) and through it,
so every assistant turn of a multi-turn conversation is trained in one forward pass (MiniCPM's
loss_mask convention) and system/user/tool tokens are not (unless train_on_prompt). A token that
overlaps an assistant span is trained (e.g. " Sure" after "Assistant:": the model must emit it). An assistant
turn with OpenAI's `weight: 0` is context only: none of its tokens is trained, train_on_prompt or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mgtrainer.driver import slot_templates

IGNORE = -100


@dataclass
class Encoded:
    rows: list[dict] = field(default_factory=list)
    truncated: int = 0  # rows cut at cutoff_len
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (source, why)
    weight0_turns: int = 0  # assistant turns not trained: OpenAI `weight: 0`

    def summary(self, name: str) -> str:
        lengths = [len(r["input_ids"]) for r in self.rows]
        mean = sum(lengths) / max(1, len(lengths))
        weight0 = f", {self.weight0_turns} assistant turns not trained (weight 0)" if self.weight0_turns else ""
        return (f"{name}: {len(self.rows)} rows, mean {mean:.0f} tokens, {self.truncated} truncated at cutoff_len, "
                f"{len(self.dropped)} dropped{weight0}")

    def counts(self) -> dict[str, int]:
        """What encoding did to the rows, for the manifest: rows kept, truncated, dropped, turns not trained."""
        out = {"rows": len(self.rows), "truncated": self.truncated, "dropped": len(self.dropped)}
        return out | ({"weight0_turns": self.weight0_turns} if self.weight0_turns else {})


def message_dicts(messages) -> list[dict]:
    out = []
    for m in messages:
        d = {"role": m.role, "content": m.content or ""}
        if m.tool_calls:
            d["tool_calls"] = m.tool_calls
        if m.tool_call_id:
            d["tool_call_id"] = m.tool_call_id
        if m.name:
            d["name"] = m.name
        out.append(d)
    return out


def _render(tok, msgs, tools, gen=False) -> str:
    return tok.apply_chat_template(msgs, tools=tools or None, tokenize=False, add_generation_prompt=gen)


def assistant_spans(tok, msgs: list[dict], tools) -> tuple[str, list[tuple[int, int, int]]]:
    """The rendered conversation and the (start, end, message index) character span of each assistant turn."""
    full = _render(tok, msgs, tools)
    spans, cursor = [], 0
    for i, m in enumerate(msgs):
        if m["role"] != "assistant":
            continue
        before, through = _render(tok, msgs[:i], tools, gen=True) if i else "", _render(tok, msgs[: i + 1], tools)
        end = len(through.rstrip("\n"))
        if full.startswith(through[:end]) and through.startswith(before) and len(before) >= cursor:
            start = len(before)
        else:  # the template re-renders earlier turns: find the content itself
            start = full.find(m["content"], cursor)
            end = start + len(m["content"]) if start >= 0 else -1
        if start >= 0:
            spans.append((start, end, i))
            cursor = end
    return full, spans


def encode_chat(tok, record, cutoff_len: int, train_on_prompt: bool = False) -> tuple[dict | None, bool]:
    """input_ids + labels for one chat record; returns (row or None if nothing left to train, truncated)."""
    no_media(record)
    msgs = message_dicts(record.messages)
    if getattr(tok, slot_templates.ATTR, None):  # a LLaMA-Factory template: encoded as LLaMA-Factory does
        return _encode_lf(tok, record, msgs, cutoff_len, train_on_prompt)
    text, spans = assistant_spans(tok, msgs, record.tools)
    trained = [(s, e) for s, e, i in spans if record.messages[i].weight != 0]
    context = [(s, e) for s, e, i in spans if record.messages[i].weight == 0]
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"]

    def overlaps(off, ranges) -> bool:
        return any(off[1] > s and off[0] < e for s, e in ranges)

    labels = [
        tid if overlaps(off, trained) or (train_on_prompt and not overlaps(off, context)) else IGNORE
        for tid, off in zip(ids, enc["offset_mapping"])
    ]
    truncated = len(ids) > cutoff_len
    ids, labels = ids[:cutoff_len], labels[:cutoff_len]
    if all(lab == IGNORE for lab in labels):
        return None, truncated
    return {"input_ids": ids, "labels": labels}, truncated


def _encode_lf(tok, record, msgs, cutoff_len: int, train_on_prompt: bool) -> tuple[dict | None, bool]:
    from mgtrainer.errors import MgtError

    replies = [m for m in record.messages if m.role == "assistant"]
    untrained = frozenset(i for i, m in enumerate(replies) if m.weight == 0)
    try:
        ids, labels, truncated = slot_templates.encode(tok, msgs, record.tools, cutoff_len, train_on_prompt,
                                                       untrained)
    except MgtError as err:
        raise MgtError(f"{record.source}: {err}") from None
    if all(lab == IGNORE for lab in labels):
        return None, truncated
    return {"input_ids": ids, "labels": labels}, truncated


def encode_chats(tok, records, cutoff_len: int, train_on_prompt: bool = False) -> Encoded:
    out = Encoded()
    out.rows = list(chat_stream(tok, records, cutoff_len, train_on_prompt, out))
    return out


def chat_stream(tok, records, cutoff_len: int, train_on_prompt: bool = False, stats: Encoded | None = None):
    """encode_chat over an iterator, lazily; rows with nothing left to train are skipped (and tallied)."""
    for rec in records:
        row, cut = encode_chat(tok, rec, cutoff_len, train_on_prompt)
        if stats is not None:
            stats.truncated += cut
            weights = [m.weight for m in rec.messages if m.role == "assistant"]
            stats.weight0_turns += weights.count(0)
            if row is None:
                why = "every assistant turn has weight 0" if weights and all(w == 0 for w in weights) else \
                    "no assistant token left after truncation"
                stats.dropped.append((rec.source, why))
        if row is not None:
            yield row


def no_media(record) -> None:
    """Text-only encoders refuse a record with images/audio in one line (never train on `<image>` text)."""
    if record.media:
        from mgtrainer.errors import MgtError

        kinds = sorted({m.kind for m in record.media})
        raise MgtError(f"{record.source}: the row has {' and '.join(kinds)} input ({record.media[0].ref[:60]}) but "
                       "this task trains a text-only model; expected the media chat task with a vision/audio-language "
                       "model (references/media.md), or the media columns removed")


def record_text(tok, record) -> str:
    """The text a classify/pt record stands for (a chat-style record is rendered with the template)."""
    no_media(record)
    if record.text is not None:
        return record.text
    return _render(tok, message_dicts(record.messages), record.tools)


def encode_texts(tok, records, cutoff_len: int, label_fn=None) -> Encoded:
    """One row per record (classification): input_ids (+ labels from label_fn), cut at cutoff_len."""
    out = Encoded()
    for rec in records:
        ids = tok(record_text(tok, rec), truncation=False)["input_ids"]
        out.truncated += len(ids) > cutoff_len
        if len(ids) > cutoff_len:  # keep the final special token (e.g. [SEP]/eos) the model expects
            ids = ids[: cutoff_len - 1] + ids[-1:]
        row = {"input_ids": ids}
        if label_fn is not None:
            row["labels"] = label_fn(rec)
        out.rows.append(row)
    return out


def pack_texts(tok, records, block: int, packing: bool = True) -> Encoded:
    """pt: documents + eos, concatenated and cut into blocks of `block` tokens (no packing: one per doc)."""
    out = Encoded()
    out.rows = list(pack_stream(tok, records, block, packing, out))
    return out


def pack_stream(tok, records, block: int, packing: bool = True, stats: Encoded | None = None):
    """pack_texts over an iterator, lazily: holds at most one document plus one block of tokens.
    The tail shorter than a block is dropped, unless the whole stream is shorter than one block."""
    eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
    buf, done = [], False
    for rec in records:
        ids = tok(record_text(tok, rec), add_special_tokens=True)["input_ids"] + eos
        if not packing:
            if stats is not None:
                stats.truncated += len(ids) > block
            yield {"input_ids": ids[:block], "labels": ids[:block]}
            continue
        buf += ids
        start = 0
        while len(buf) - start >= block:
            chunk = buf[start : start + block]
            start, done = start + block, True
            yield {"input_ids": chunk, "labels": list(chunk)}
        buf = buf[start:]
    if packing and buf and not done:  # less than one block of text: one short block
        yield {"input_ids": buf, "labels": list(buf)}


def separate_pairs(tok) -> bool:
    """Decoder tokenizers join a (query, passage) pair with nothing between; give them `A eos B eos`.

    Set as the fast tokenizer's pair post-processor, so transformers, sentence-transformers and vLLM all
    tokenise pairs the same way from final/. Returns whether it changed the tokenizer.
    """
    from tokenizers import processors

    a, b = tok("a", add_special_tokens=False)["input_ids"], tok("b", add_special_tokens=False)["input_ids"]
    if not tok.is_fast or tok.eos_token is None or tok("a", "b")["input_ids"] != a + b:
        return False
    eos = tok.eos_token
    pair = processors.TemplateProcessing(single="$A", pair=f"$A {eos} $B:1 {eos}:1",
                                         special_tokens=[(eos, tok.eos_token_id)])
    old = tok.backend_tokenizer.post_processor
    tok.backend_tokenizer.post_processor = processors.Sequence([old, pair]) if old else pair
    return True
