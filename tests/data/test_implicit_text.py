"""TRL's implicit-prompt text rows ({"chosen": "...", "rejected": "..."} as plain strings, no prompt column) are
read as TRL reads them (trl.data_utils.extract_prompt: the prompt is the characters both share), for rm and dpo
alike, and written back unchanged; a pair with nothing left to tell the prompt from is refused."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from mgtrainer.data import iter_records
from mgtrainer.data.messages import shared_text

REPO = Path(__file__).resolve().parents[2]
ROWS = [{"chosen": "The sky is blue.", "rejected": "The sky is green."},
        {"chosen": "Q: What is 2+2?\nA: 4", "rejected": "Q: What is 2+2?\nA: 5"},
        {"chosen": "Yes, gladly.", "rejected": "No."}]


def write(tmp_path, rows) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_prompt_is_what_trl_extracts(tmp_path):
    from trl import data_utils as trl  # the dev env has TRL: fail, never skip
    records = list(iter_records(write(tmp_path, ROWS), kind="preference"))
    for rec, row in zip(records, ROWS):
        want = trl.extract_prompt(row)
        assert "".join(m.content for m in rec.messages) == want["prompt"]
        assert [m.role for m in rec.messages] == (["user"] if want["prompt"] else [])
        assert (rec.chosen[0].role, rec.chosen[0].content, rec.rejected[0].content) == \
            ("assistant", want["chosen"], want["rejected"])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12), st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8))
def test_the_prompt_ends_at_the_first_difference(prefix, a, b):
    """Shared, and as long as it can be: the texts differ right after it (or after the space both answers
    start with)."""
    chosen, rejected = prefix + a, prefix + b
    n, m = shared_text(chosen, rejected), min(len(chosen), len(rejected))
    assert chosen[:n] == rejected[:n] and n <= m
    if n < m:
        assert chosen[n] != rejected[n] or (chosen[n] == " " and chosen[n + 1] != rejected[n + 1])


@pytest.mark.parametrize("task", ["dpo", "rm", "orpo"])
def test_data_check_reads_them_for_every_pair_task(tmp_path, task):
    path = write(tmp_path, ROWS)
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "data", "check", str(path), "--task", task],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "3 rows (preference 3)" in proc.stdout


def test_convert_writes_them_back_unchanged(tmp_path):
    src = write(tmp_path, ROWS)
    out = tmp_path / "again.jsonl"
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "data", "convert", str(src), "--to", "messages", "-o",
                           str(out)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x) for x in out.read_text().splitlines()] == ROWS
