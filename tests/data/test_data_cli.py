"""`mgtrainer data check/convert` and tools/dataformat_trans.py through real subprocesses; the light
commands never import torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from mgtrainer.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit:
        pass
heavy = sorted(m for m in ("torch", "transformers", "datasets", "pyarrow") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


def test_help_and_check_do_not_import_torch(shared_data):
    """--help and data check (file and dataset name) in one fresh interpreter: no heavy module loaded."""
    runs = [["--help"], ["data", "--help"], ["data", "check", str(shared_data / "snips/snips_intent_validate.jsonl")],
            ["data", "check", "kto_en_demo", "--dataset-dir", str(shared_data / "llama-factory")]]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(runs)], capture_output=True, text=True, env=env,
                          cwd=REPO)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "usage: mgtrainer" in proc.stdout and "(classify 700)" in proc.stdout and "(kto 300)" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="


def test_check_reports_format_rows_and_stats(shared_data, cli):
    proc = cli("data", "check", "dpo_en_demo", "--dataset-dir", str(shared_data / "llama-factory"))
    assert proc.returncode == 0, proc.stderr
    assert f"{shared_data / 'llama-factory/dpo_en_demo.json'}: format sharegpt, 300 rows (preference 300), 0 rejected" \
        in proc.stdout.splitlines()
    assert "chosen (chars)" in proc.stdout and "messages (turns)" in proc.stdout


def test_check_with_task_coerces_kind(shared_data, cli):
    proc = cli("data", "check", str(shared_data / "flagembedding/reranker_normal_examples.jsonl"), "--task", "rerank")
    assert proc.returncode == 0, proc.stderr
    assert "format embed, 10 rows (rerank 10)" in proc.stdout
    proc = cli("data", "check", str(shared_data / "llama-factory/identity.json"), "--task", "classify")
    assert proc.returncode == 0 and "(classify 91)" in proc.stdout


def test_convert_chain_and_refuse_overwrite(shared_data, tmp_path, cli):
    src = shared_data / "llama-factory/glaive_toolcall_en_demo.json"
    msgs = tmp_path / "glaive.jsonl"
    proc = cli("data", "convert", str(src), "--to", "messages", "-o", str(msgs))
    assert proc.returncode == 0, proc.stderr
    assert "wrote 300 messages rows" in proc.stdout
    first = json.loads(msgs.read_text().splitlines()[0])
    assert any("tool_calls" in m for m in first["messages"]) and first["tools"][0]["type"] == "function"
    back = tmp_path / "glaive.json"
    proc = subprocess.run([sys.executable, str(REPO / "tools/dataformat_trans.py"), str(msgs), "--to", "sharegpt",
                           "-o", str(back)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    original, again = json.loads(src.read_text()), json.loads(back.read_text())
    assert [r["conversations"] for r in again] == [r["conversations"] for r in original]
    before = msgs.read_bytes()
    for cmd in (["-m", "mgtrainer", "data", "convert"], [str(REPO / "tools/dataformat_trans.py")]):
        proc = subprocess.run([sys.executable, *cmd, str(msgs), "--to", "messages", "-o", str(msgs)],
                              capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 2 and "overwrite the input" in proc.stderr and "Traceback" not in proc.stderr
    assert msgs.read_bytes() == before


def test_convert_onto_an_existing_file_refuses_without_force(tmp_path, cli):
    src = tmp_path / "a.jsonl"
    src.write_text('{"instruction": "a", "output": "b"}\n', encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    out.write_text("someone's data\n", encoding="utf-8")
    proc = cli("data", "convert", str(src), "--to", "sharegpt", "-o", str(out))
    assert proc.returncode == 2 and proc.stderr.strip() == (f"{out}:1: output exists (-o); expected a new path, "
                                                            "or --force to replace it")
    assert out.read_text() == "someone's data\n"
    proc = cli("data", "convert", str(src), "--to", "sharegpt", "-o", str(out), "--force")
    assert proc.returncode == 0 and json.loads(out.read_text())["conversations"][1]["value"] == "b"


def test_convert_to_every_file_kind(shared_data, tmp_path):
    from mgtrainer.data.convert import convert

    src = shared_data / "llama-factory/alpaca_zh_demo.json"
    rows = json.loads(src.read_text())
    for ext in ("jsonl", "json", "csv", "tsv", "parquet"):
        out, again = tmp_path / f"zh.{ext}", tmp_path / f"again.{ext}.jsonl"
        assert convert(src, out, "alpaca") == 1000
        assert convert(out, again, "alpaca") == 1000
        assert [json.loads(line) for line in again.read_text().splitlines()] == rows, ext
    text = tmp_path / "wiki.txt"
    assert convert(shared_data / "llama-factory/wiki_demo.txt", text, "text") == 30
    assert text.read_bytes() == (shared_data / "llama-factory/wiki_demo.txt").read_bytes()


def test_check_counts_repeated_rows_without_failing(tmp_path, cli):
    data = tmp_path / "dup.jsonl"
    data.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": "d"}\n'
                    '{"instruction": "a", "output": "b"}\n', encoding="utf-8")
    proc = cli("data", "check", str(data))
    assert proc.returncode == 0, proc.stderr
    assert f"1 rows repeat an earlier row (first: {data}:3 repeats {data}:1)" in proc.stdout
