"""Property tests (hypothesis): every converter round-trips its own rows exactly, and alpaca <->
sharegpt <-> messages conversions keep the content (system, history, tool calls, tools)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mgtrainer.data import FORMATS, to_row
from mgtrainer.data.base import RowError, Spec

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
WORD = st.text("abcdefghij_", min_size=1, max_size=8)
ARGS = st.dictionaries(WORD, st.one_of(st.integers(-5, 5), TEXT, st.booleans()), max_size=3)
TOOL = st.builds(lambda n, d: {"name": n, "description": d, "parameters": {"type": "object", "properties": {}}},
                 WORD, TEXT)


def parse(row: dict, fmt: str, kind: str | None = None):
    return FORMATS[fmt].parse(row, Spec(fmt), kind)


def content(rec) -> tuple:
    """What a conversion must keep: roles, texts, tool calls (name + parsed arguments), tools, labels."""
    def turns(msgs):
        return [(m.role, m.content, [(c["function"]["name"], json.loads(c["function"]["arguments"]))
                                     for c in m.tool_calls or []]) for m in msgs or []]
    tools = [t["function"] for t in rec.tools] if rec.tools else None
    return rec.kind, turns(rec.messages), turns(rec.chosen), turns(rec.rejected), rec.label, tools


@st.composite
def alpaca_rows(draw):
    row = {"instruction": draw(TEXT), "input": draw(TEXT), "output": draw(TEXT)}
    if draw(st.booleans()):
        row["system"] = draw(TEXT)
    if draw(st.booleans()):
        row["history"] = draw(st.lists(st.lists(TEXT, min_size=2, max_size=2), max_size=3))
    if draw(st.booleans()):
        del row["input"]
    return row


@st.composite
def sharegpt_rows(draw):
    conv = [{"from": "system", "value": draw(TEXT)}] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(1, 3))):
        conv.append({"from": "human", "value": draw(TEXT)})
        for _ in range(draw(st.integers(0, 2))):
            call = {"name": draw(WORD), "arguments": draw(ARGS)}
            conv.append({"from": "function_call", "value": json.dumps(call, ensure_ascii=False)})
            conv.append({"from": "observation", "value": draw(TEXT)})
        conv.append({"from": "gpt", "value": draw(TEXT)})
    row = {"conversations": conv}
    if draw(st.booleans()):
        row["tools"] = json.dumps(draw(st.lists(TOOL, max_size=2)), ensure_ascii=False)
    return row


@st.composite
def messages_rows(draw):
    msgs = [{"role": "system", "content": draw(TEXT)}] if draw(st.booleans()) else []
    for i in range(draw(st.integers(1, 3))):
        msgs.append({"role": "user", "content": draw(TEXT)})
        if draw(st.booleans()):
            cid = f"call_{i}"
            fn = {"name": draw(WORD), "arguments": json.dumps(draw(ARGS))}
            msgs.append({"role": "assistant", "tool_calls": [{"id": cid, "type": "function", "function": fn}]})
            msgs.append({"role": "tool", "tool_call_id": cid, "content": draw(TEXT)})
        msgs.append({"role": "assistant", "content": draw(TEXT)})
    row = {"messages": msgs}
    if draw(st.booleans()):
        row["tools"] = [{"type": "function", "function": t} for t in draw(st.lists(TOOL, min_size=1, max_size=2))]
    return row


@settings(max_examples=150, deadline=None)
@given(alpaca_rows())
def test_alpaca_round_trip_and_conversions(row):
    rec = parse(row, "alpaca")
    assert to_row(rec) == row
    for fmt in ("sharegpt", "messages"):
        again = parse(to_row(rec, fmt), fmt)
        assert content(again) == content(rec)
        assert content(parse(to_row(again, "alpaca"), "alpaca")) == content(rec)


@settings(max_examples=150, deadline=None)
@given(sharegpt_rows())
def test_sharegpt_round_trip_and_conversions(row):
    rec = parse(row, "sharegpt")
    assert to_row(rec) == row
    via = parse(to_row(rec, "messages"), "messages")
    assert content(via) == content(rec)
    assert content(parse(to_row(via, "sharegpt"), "sharegpt")) == content(rec)
    if any(m.role == "tool" for m in rec.messages):
        try:
            to_row(rec, "alpaca")
            raise AssertionError("tool turns written as alpaca")
        except RowError as err:
            assert "cannot be written as alpaca" in str(err)
    else:
        assert content(parse(to_row(rec, "alpaca"), "alpaca")) == content(rec)


@settings(max_examples=150, deadline=None)
@given(messages_rows())
def test_messages_round_trip_and_conversions(row):
    rec = parse(row, "messages")
    assert to_row(rec) == row
    assert content(parse(to_row(rec, "sharegpt"), "sharegpt")) == content(rec)


@settings(max_examples=100, deadline=None)
@given(TEXT, TEXT, st.lists(TEXT, min_size=1, max_size=2), st.lists(TEXT, min_size=1, max_size=2), st.booleans())
def test_preference_shapes_round_trip(system, prompt, chosen, rejected, as_sharegpt):
    if as_sharegpt:
        row = {"conversations": [{"from": "human", "value": prompt}], "system": system,
               "chosen": {"from": "gpt", "value": chosen[0]}, "rejected": {"from": "gpt", "value": rejected[0]}}
        fmt = "sharegpt"
    else:
        row = {"prompt": [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
               "chosen": [{"role": "assistant", "content": c} for c in chosen[:1]],
               "rejected": [{"role": "assistant", "content": r} for r in rejected[:1]]}
        fmt = "messages"
    rec = parse(row, fmt)
    assert rec.kind == "preference" and to_row(rec) == row
    for other in ("alpaca", "sharegpt", "messages", "openai_preference"):
        assert content(parse(to_row(rec, other), other)) == content(rec)


LABEL = st.one_of(WORD, st.integers(0, 9), st.lists(WORD, min_size=1, max_size=3))


@settings(max_examples=100, deadline=None)
@given(TEXT.filter(str.strip), LABEL, st.booleans())
def test_classify_round_trip(text, label, alpaca_style):
    row = {"instruction": text, "input": "", "output": label} if alpaca_style else {"text": text, "label": label}
    fmt = "alpaca" if alpaca_style else "classify"
    rec = parse(row, fmt, "classify")
    assert rec.kind == "classify" and to_row(rec) == row
    expect = [str(x) for x in label] if isinstance(label, list) else str(label)
    assert rec.label == expect


@settings(max_examples=100, deadline=None)
@given(TEXT, st.lists(TEXT, min_size=1, max_size=3), st.lists(TEXT, max_size=3), st.booleans(), st.booleans())
def test_embed_round_trip(query, pos, neg, scores, prompt):
    row = {"query": query, "pos": pos, "neg": neg}
    if scores:
        row |= {"pos_scores": [1.0] * len(pos), "neg_scores": [0.5] * len(neg)}
    if prompt:
        row["prompt"] = "Represent this query"
    rec = parse(row, "embed")
    assert to_row(rec) == row
    from mgtrainer.data import coerce
    rr = coerce(rec, "rerank")
    assert rr.passages == pos + neg and rr.labels == [1.0] * len(pos) + [0.0] * len(neg)
    assert (rr.scores is not None) == scores


@settings(max_examples=100, deadline=None)
@given(TEXT, st.lists(st.tuples(TEXT, st.one_of(st.integers(0, 3), st.floats(0, 1))), min_size=1, max_size=4))
def test_rerank_round_trip(query, passages):
    row = {"query_id": "7", "query": query, "passages": [{"text": t, "label": label} for t, label in passages]}
    rec = parse(row, "rerank")
    assert to_row(rec) == row
    assert rec.labels == [float(label) for _, label in passages]


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.just("null"), TEXT.filter(lambda s: s != "null")), TEXT.filter(lambda s: s != "null"),
       TEXT.filter(lambda s: s != "null"))
def test_mdl_round_trip(system, user, prediction):
    row = {"system_prompt": system, "user_prompt": user, "prediction": prediction}
    rec = parse(row, "mdl")
    assert to_row(rec) == row
    assert rec.messages[-1].content == prediction and (rec.messages[0].role == "system") == (system != "null")
    assert parse(row, "mdl", "classify").label == prediction


# -- fuzz: whatever the bytes, a record or one line (issue 11: "every bad input is one clear line") -----------

KEYS = st.sampled_from(["instruction", "input", "output", "system", "history", "messages", "conversations", "role",
                        "content", "from", "value", "label", "labels", "text", "query", "pos", "neg", "passages",
                        "score", "pos_scores", "chosen", "rejected", "prompt", "completion", "tools", "tool_calls",
                        "kto_tag", "user_prompt", "prediction", "input", "preferred_output", "non_preferred_output"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                    st.sampled_from(["user", "assistant", "human", "gpt", "system", "tool", "[not json", "[1, 2]"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=5)), max_leaves=20)
TEXTY = st.one_of(TEXT, TEXT, TEXT, VALUES)  # mostly valid, so rows get past detection into the converters
NUMBER = st.one_of(st.integers(0, 3), st.floats(), VALUES)
USER, ASSISTANT = (st.fixed_dictionaries({"role": st.just(r), "content": TEXTY}) for r in ("user", "assistant"))
CHAT = st.one_of(st.tuples(USER, ASSISTANT).map(list), st.lists(st.one_of(USER, ASSISTANT), max_size=4))
PASSAGE = st.fixed_dictionaries({"text": TEXTY, "label": NUMBER}, optional={"score": NUMBER})
SHAPES = [{"instruction": TEXTY, "output": TEXTY}, {"messages": CHAT}, {"messages": CHAT, "label": VALUES},
          {"instruction": TEXTY, "chosen": TEXTY, "rejected": TEXTY}, {"text": TEXTY, "label": VALUES},
          {"query": TEXTY, "pos": st.lists(TEXTY, max_size=3), "neg": st.lists(TEXTY, max_size=3)},
          {"query": TEXTY, "pos": st.lists(TEXT, min_size=1, max_size=2), "pos_scores": st.lists(NUMBER, max_size=2)},
          {"query": TEXTY, "passages": st.lists(PASSAGE, max_size=3)},
          {"prompt": CHAT, "chosen": st.lists(ASSISTANT, max_size=1), "rejected": st.lists(ASSISTANT, max_size=1)}]
ROWS = st.one_of(st.dictionaries(KEYS, VALUES, max_size=6), *[st.fixed_dictionaries(shape) for shape in SHAPES])
LINES = st.one_of(ROWS.map(json.dumps).map(str.encode),
                  st.binary(max_size=40), st.just(b'{"text": "a \\udc00", "label": NaN}'),
                  st.just(b"[" * 3000 + b"]" * 3000))


@settings(max_examples=int(__import__("os").environ.get("MGT_FUZZ_EXAMPLES", 300)), deadline=None)
@given(st.lists(LINES, min_size=1, max_size=4), st.sampled_from([".jsonl", ".json", ".csv", ".txt"]),
       st.sampled_from([None, "chat", "preference", "kto", "text", "classify", "embed", "rerank"]),
       st.sampled_from([".jsonl", ".json", ".csv", ".txt", ".parquet"]))
def test_any_input_gives_records_or_one_line_errors(tmp_path_factory, lines, suffix, kind, output):
    from mgtrainer.data import iter_records
    from mgtrainer.data.writers import RowWriter
    from mgtrainer.errors import MgtError

    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / f"in{suffix}"
    path.write_bytes(b"\n".join(lines) + b"\n")
    reasons: list[str] = []
    try:
        records = list(iter_records(path, kind=kind, on_error=lambda source, reason: reasons.append(reason)))
    except MgtError as err:
        records, reasons = [], reasons + [str(err)]
    assert all("\n" not in r and "; expected " in r for r in reasons), reasons
    for rec in records:
        for fmt in FORMATS:
            try:
                row = to_row(rec, fmt)
            except RowError:
                continue
            try:
                with RowWriter(folder / f"out{output}") as out:
                    out.write(row)
                    out.write(to_row(records[0], fmt))  # two rows: the writer sees differing shapes
            except (MgtError, RowError) as err:
                assert "\n" not in str(err)
