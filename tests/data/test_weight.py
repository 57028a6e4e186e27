"""OpenAI fine-tuning's per-turn `weight` (issue 25): an assistant turn with `weight: 0` is context, never
trained; any other value is one FILE:LINE line; a format that cannot hold the weight refuses to convert it;
the LLaMA-Factory backend (no per-turn weight) refuses it; training says how many turns it left out."""

from __future__ import annotations

import json

import pytest

from mgtrainer.data import iter_records
from mgtrainer.data.convert import convert
from mgtrainer.driver.tokenize import IGNORE, encode_chat, encode_chats
from mgtrainer.errors import MgtError


def _turns(*answers):
    """user/assistant turns: each answer is (text, weight or None)."""
    out = []
    for i, (text, weight) in enumerate(answers):
        out.append({"role": "user", "content": f"question {i}"})
        out.append({"role": "assistant", "content": text, **({} if weight is None else {"weight": weight})})
    return out


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_weights_are_read_and_survive_a_round_trip(tmp_path):
    src = _write(tmp_path / "ft.jsonl", [{"messages": _turns(("draft", 0), ("final", 1), ("plain", None))}])
    rec = next(iter_records(src))
    assert [m.weight for m in rec.messages if m.role == "assistant"] == [0, 1, None]
    out = tmp_path / "back.jsonl"
    convert(src, out, "messages")
    assert json.loads(out.read_text())["messages"] == _turns(("draft", 0), ("final", 1), ("plain", None))


@pytest.mark.parametrize("value, shown", [(2, "2"), ("0", "'0'"), (True, "true"), (0.5, "0.5"), (None, "null")])
def test_a_weight_other_than_0_or_1_is_one_line(tmp_path, cli, value, shown):
    rows = [{"messages": _turns(("ok", 1))}, {"messages": _turns(("bad", 0))}]
    rows[1]["messages"][1]["weight"] = value
    src = _write(tmp_path / "ft.jsonl", rows)
    proc = cli("data", "check", str(src))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [f"{src}:2: weight {shown} (messages[1].weight); expected 0 (do not train "
                                        "this turn) or 1 (train it)", "rejected 1 of 2 rows"]


def test_a_weight_on_a_user_turn_or_in_a_preference_row_is_refused(tmp_path, cli):
    user = {"messages": [{"role": "user", "content": "q", "weight": 0}, {"role": "assistant", "content": "a"}]}
    pref = {"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a", "weight": 1}],
            "rejected": [{"role": "assistant", "content": "b"}]}
    src = _write(tmp_path / "mixed.jsonl", [user, pref])
    proc = cli("data", "check", str(src))
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert f"{src}:1: weight on a user turn (messages[0].weight); expected weight only on assistant turns (0 or 1)" \
        in lines, proc.stderr
    assert f"{src}:2: weight in a preference row (chosen[0].weight); expected weight only in chat (sft) rows" \
        in lines, proc.stderr


@pytest.mark.parametrize("to", ["sharegpt", "alpaca"])
def test_a_format_without_weights_refuses_to_convert_them(tmp_path, cli, to):
    src = _write(tmp_path / "ft.jsonl", [{"messages": _turns(("a", None))}, {"messages": _turns(("x", 0), ("y", 1))}])
    out = tmp_path / f"out.{to}.jsonl"
    proc = cli("data", "convert", str(src), "--to", to, "-o", str(out))
    assert proc.returncode == 2 and not out.exists()
    assert proc.stderr.strip() == (f"{src}:2: messages[1].weight cannot be written as {to} (it has no per-turn "
                                   "weight, so the turn would train); expected --to messages, which keeps it")


def test_weight_0_turns_train_no_token_even_with_train_on_prompt(tiny_qwen2, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    src = _write(tmp_path / "ft.jsonl", [{"messages": _turns(("zebra crossing", 0), ("yellow submarine", 1))},
                                         {"messages": _turns(("only context", 0))}])
    weighted, context_only = list(iter_records(src, kind="chat"))

    def trained_text(row):
        return tok.decode([t for t, lab in zip(row["input_ids"], row["labels"]) if lab != IGNORE])

    row, _ = encode_chat(tok, weighted, cutoff_len=4096)
    assert "yellow submarine" in trained_text(row) and "zebra" not in trained_text(row)
    everything, _ = encode_chat(tok, weighted, cutoff_len=4096, train_on_prompt=True)
    assert "question 0" in trained_text(everything) and "zebra" not in trained_text(everything)
    weighted.messages[1].weight = None  # the same row without the weight trains both answers
    assert "zebra crossing" in trained_text(encode_chat(tok, weighted, cutoff_len=4096)[0])
    weighted.messages[1].weight = 0
    enc = encode_chats(tok, [weighted, context_only], cutoff_len=4096)
    assert len(enc.rows) == 1 and enc.weight0_turns == 2
    assert enc.dropped == [(context_only.source, "every assistant turn has weight 0")]
    assert "2 assistant turns not trained (weight 0)" in enc.summary("train")


@pytest.mark.heavy
def test_an_sft_run_leaves_weight_0_turns_out_and_says_so(tiny_qwen2, make_cfg, tmp_path, capsys):
    from mgtrainer import manifest as mf
    from mgtrainer.app import runs

    rows = [{"messages": _turns((f"draft {i}", 0), (f"answer {i}", 1))} for i in range(8)]
    src = _write(tmp_path / "ft.jsonl", rows)
    cfg = make_cfg("sft", tiny_qwen2, [src], overrides=["train.max_steps=2"])
    runs.train(cfg)
    assert "8 assistant turns not trained (weight 0)" in capsys.readouterr().out
    man = mf.read(cfg.train.output_dir)
    assert man.data == {"rows": 8, "truncated": 0, "dropped": 0, "weight0_turns": 8}


def test_the_llamafactory_backend_refuses_weight_0(tmp_path):
    from mgtrainer.backends.lf_data import lf_row

    rec = next(iter_records(_write(tmp_path / "ft.jsonl", [{"messages": _turns(("x", 0), ("y", 1))}]), kind="chat"))
    with pytest.raises(MgtError, match=r"ft.jsonl:1: an assistant turn with weight 0 \(messages\); LLaMA-Factory "
                                       r"has no per-turn weight and would train it"):
        lf_row(rec)
