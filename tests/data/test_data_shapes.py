"""Less common row shapes: TRL prompt/completion and implicit-prompt preference, ranked outputs,
KTO labels, multi-label chat classify, sentence-transformers and numbered-negative embedding rows."""

from __future__ import annotations

import pytest

from mgtrainer.data import FORMATS, detect, to_row
from mgtrainer.data.base import Spec

U, A = "user", "assistant"
CASES = [
    ({"prompt": "What is 2+2?", "completion": "4"}, "messages", "chat", [(U, "What is 2+2?"), (A, "4")], None),
    ({"prompt": [{"role": U, "content": "hi"}], "completion": [{"role": A, "content": "yo"}], "label": True},
     "messages", "kto", [(U, "hi"), (A, "yo")], True),
    ({"chosen": [{"role": U, "content": "q"}, {"role": A, "content": "good"}],
      "rejected": [{"role": U, "content": "q"}, {"role": A, "content": "bad"}]}, "messages", "preference", [(U, "q")], None),
    ({"messages": [{"role": "system", "content": "s"}, {"role": U, "content": "x"}], "label": ["a", "b"]},
     "messages", "classify", [("system", "s"), (U, "x")], ["a", "b"]),
    ({"instruction": "rank", "output": ["best", "worse", "worst"]}, "alpaca", "preference", [(U, "rank")], None),
    ({"prompt": "q", "query": "ctx", "response": "a", "kto_tag": False}, "alpaca", "kto", [(U, "q\nctx"), (A, "a")], False),
    ({"conversations": [{"from": "human", "value": "q"}], "chosen": "x", "rejected": "y"}, "sharegpt", "preference",
     [(U, "q")], None),
    ({"messages": [{"role": U, "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                   {"role": A, "content": "c", "weight": 0}]}, "messages", "chat", [(U, "ab"), (A, "c")], None),
    ({"anchor": "a", "positive": "p", "negative": "n"}, "embed", "embed", [], None),
    ({"query": "q", "pos": ["p"], "negative_1": "n1", "negative_2": "n2"}, "embed", "embed", [], None),
]


@pytest.mark.parametrize("row,fmt,kind,turns,label", CASES)
def test_shape(row, fmt, kind, turns, label):
    assert detect(row) == fmt
    rec = FORMATS[fmt].parse(row, Spec(fmt))
    assert rec.kind == kind and [(m.role, m.content) for m in rec.messages] == turns and rec.label == label
    assert to_row(rec) == row


def test_ranked_and_numbered_negatives_content():
    rec = FORMATS["alpaca"].parse({"instruction": "rank", "output": ["best", "worse", "worst"]}, Spec("alpaca"))
    assert (rec.chosen[0].content, rec.rejected[0].content) == ("best", "worse")
    rec = FORMATS["embed"].parse({"query": "q", "pos": ["p"], "negative_1": "n1", "negative_2": "n2"}, Spec("embed"))
    assert rec.neg == ["n1", "n2"]


def test_cli_format_names_match_the_registry():
    from mgtrainer.cli.data import FORMAT_NAMES

    assert FORMAT_NAMES == tuple(FORMATS)
