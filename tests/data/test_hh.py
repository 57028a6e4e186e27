"""Anthropic-HH transcripts: the shared turns are the prompt; round trip; rejected rows name their reason."""

import json

from mgtrainer.data import iter_records
from mgtrainer.data.formats import detect, to_row

ROWS = [
    {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Name a color.\n\nAssistant: Blue.",
     "rejected": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Name a color.\n\nAssistant: No."},
    {"chosen": "\n\nHuman: Same?\n\nAssistant: Yes.", "rejected": "\n\nHuman: Same?\n\nAssistant: Yes."},
    {"chosen": "\n\nHuman: Empty?\n\nAssistant: Fine.", "rejected": "\n\nHuman: Empty?\n\nAssistant: "},
    {"chosen": "\n\nHuman: A\n\nAssistant: x", "rejected": "\n\nHuman: B\n\nAssistant: y"},
    {"chosen": "preamble\n\nHuman: A\n\nAssistant: x", "rejected": "preamble\n\nHuman: A\n\nAssistant: y"},
]


def test_hh_rows_split_prompt_and_answers_and_round_trip(tmp_path):
    path = tmp_path / "hh.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n")
    assert detect(ROWS[0]) == "hh"
    assert detect({"prompt": "x", "chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "c"}) != "hh"
    recs = list(iter_records(path, kind="preference"))
    assert len(recs) == 1
    rec = recs[0]
    assert [(m.role, m.content) for m in rec.messages] == [("user", "Hi"), ("assistant", "Hello!"),
                                                           ("user", "Name a color.")]
    assert [m.content for m in rec.chosen] == ["Blue."] and [m.content for m in rec.rejected] == ["No."]
    assert to_row(rec) == ROWS[0]
    assert to_row(rec, "messages")["prompt"][-1] == {"role": "user", "content": "Name a color."}


def test_data_check_lists_every_rejected_hh_row_with_its_reason(tmp_path):
    from mgtrainer.data.checks import check

    path = tmp_path / "hh.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    rep = check(str(path), kind="preference")
    reasons = dict(rep.rejected)
    assert rep.rows == 1 and len(reasons) == 4
    assert "same answer" in reasons[f"{path}:2"]
    assert "empty rejected answer" in reasons[f"{path}:3"]
    assert "share no prompt" in reasons[f"{path}:4"]
    assert "before the first speaker tag" in reasons[f"{path}:5"]


def test_empty_kto_answer_is_rejected(tmp_path):
    path = tmp_path / "kto.jsonl"
    rows = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "label": True},
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}], "label": False}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from mgtrainer.data.checks import check

    rep = check(str(path), kind="kto")
    assert rep.rows == 1 and "empty judged answer" in dict(rep.rejected)[f"{path}:2"]
