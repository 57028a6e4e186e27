"""The bad-input corpus (tests/data/bad/): each file gives its exact one-line message through the real
CLI, exit code 2 and no traceback; `data check` lists rejected rows, `data convert` stops at them."""

from __future__ import annotations

import json

import pytest

from pathlib import Path

BAD = Path(__file__).resolve().parent / "bad"

CASES = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))


def test_corpus_is_complete():
    files = {p.name for p in BAD.iterdir() if p.name != "expected.json"}
    assert files == set(CASES) and len(CASES) >= 20


@pytest.fixture(scope="module")
def corpus_run(cli):
    """One `mgtrainer data check` over every corpus file (each file's problems are prefixed by its name)."""
    plain = sorted(n for n, c in CASES.items() if not c["args"])
    return cli("data", "check", *plain, cwd=BAD), plain


def test_check_whole_corpus_in_one_run(corpus_run):
    proc, names = corpus_run
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    for name in names:
        mine = [line for line in lines if line.startswith(name + ":")]
        assert mine and mine[0] == CASES[name]["message"], name
    other = [line for line in lines if not any(line.startswith(n + ":") for n in names)]
    assert all(line.startswith("rejected ") for line in other), other


@pytest.mark.parametrize("name", ["malformed_line.jsonl", "classify_for_sft.jsonl"])
def test_check_one_file_exact_message(name, cli):
    case = CASES[name]
    proc = cli("data", "check", name, *case["args"], cwd=BAD)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == case["message"]
    problems = [line for line in lines if not line.startswith("rejected ")]  # + a "rejected N of M rows" summary
    assert all(line.startswith(name + ":") for line in problems) and len(lines) - len(problems) <= 1


def test_convert_stops_at_bad_row_and_leaves_no_output(tmp_path, cli):
    out = tmp_path / "out.jsonl"
    proc = cli("data", "convert", "unknown_role_messages.jsonl", "--to", "sharegpt", "-o", str(out), cwd=BAD)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == CASES["unknown_role_messages.jsonl"]["message"]
    assert list(tmp_path.iterdir()) == []  # neither output nor temp file


def test_training_load_reports_rejected_rows(capsys):
    from types import SimpleNamespace

    from mgtrainer.data import load_splits

    cfg = SimpleNamespace(train=[str(BAD / "wrong_order_messages.jsonl")], eval=None, dataset_dir=None, format=None,
                          mix=None, val_size=None, max_samples=None, seed=1)
    splits = load_splits(cfg, "chat")
    assert len(splits.train) == 1 and len(splits.rejected) == 1
    source, reason = splits.rejected[0]
    assert source.endswith("wrong_order_messages.jsonl:2") and reason.startswith("wrong role order")
    err = capsys.readouterr().err
    assert "1 rows rejected (1 kept)" in err and "wrong_order_messages.jsonl:2: wrong role order" in err
