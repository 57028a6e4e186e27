"""Messages a person can act on: a mistyped data path or --dataset-dir names the nearest existing name, a file
name with a newline is quoted (the message stays one line), look-alike characters in config keys are escaped."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mgtrainer.config import load_config
from mgtrainer.errors import MgtError

REPO = Path(__file__).resolve().parents[2]


def check(*args, cwd):
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "data", "check", *args], capture_output=True,
                          text=True, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def test_a_mistyped_path_names_the_nearest_file(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train_intents.jsonl").write_text('{"text": "a", "label": "x"}\n')
    code, _, err = check("data/train_intent.jsonl", cwd=tmp_path)
    assert (code, err.strip()) == (2, "data/train_intent.jsonl: no such file (target); expected an existing file "
                                      "or folder (nearest: data/train_intents.jsonl)")
    code, _, err = check("dta/train_intents.jsonl", cwd=tmp_path)
    assert err.strip().endswith("(nearest: data)")


def test_a_mistyped_dataset_dir_names_the_nearest_folder(tmp_path):
    (tmp_path / "lf_data").mkdir()
    code, _, err = check("alpaca_en_demo", "--dataset-dir", "lf_dat", cwd=tmp_path)
    assert (code, err.strip()) == (2, "lf_dat: no such folder (data.dataset_dir); expected the folder of "
                                      "dataset_info.json (nearest: lf_data)")


def test_a_file_name_with_a_newline_is_quoted(tmp_path):
    (tmp_path / "two\nlines.jsonl").write_text('{"text": 1, "label": "x"}\n')
    code, out, err = check("two\nlines.jsonl", cwd=tmp_path)
    assert code == 2 and out.startswith("'two\\nlines.jsonl': format classify")
    assert err.splitlines()[0] == "'two\\nlines.jsonl':1: wrong type int (text); expected a string"


@pytest.mark.parametrize("key, shown", [("train.le\u0430rning_rate", "train.le\\u0430rning_rate"),
                                        ("le\u0430rning_rate", "le\\u0430rning_rate")])
def test_look_alike_characters_in_a_key_are_escaped(key, shown):
    with pytest.raises(MgtError) as err:
        load_config({"task": "sft", "model": "m", "data": {"train": ["x.jsonl"]}}, [f"{key}=0.1"])
    assert f"unknown key '{shown}' (did you mean 'learning_rate'?)" in str(err.value)


def test_a_line_past_the_bound_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    """MGT_MAX_LINE_MB bounds a .jsonl/.txt line and a CSV cell: a longer one is one line of error."""
    from mgtrainer.data import iter_records

    monkeypatch.setenv("MGT_MAX_LINE_MB", "1")
    big = "x" * (3 << 20)
    (tmp_path / "one.jsonl").write_text(json.dumps({"text": big, "label": "a"}) + "\n")
    (tmp_path / "one.csv").write_text(f"text,label\n{big},a\n")
    with pytest.raises(MgtError, match=r"one.jsonl:1: a line longer than 1 MiB \(file\); expected one row per line "
                                       r"\(MGT_MAX_LINE_MB=N raises the limit\)"):
        list(iter_records(tmp_path / "one.jsonl"))
    with pytest.raises(MgtError, match=r"one.csv:2: a cell longer than 1 MiB"):
        list(iter_records(tmp_path / "one.csv"))
    monkeypatch.setenv("MGT_MAX_LINE_MB", "4")
    assert len(next(iter_records(tmp_path / "one.jsonl")).text) == 3 << 20
