"""The bad-input corpus (tests/data/bad/): each file gives its exact one-line message through the real
CLI, exit code 2 and no traceback; `data check` lists rejected rows, `data convert` stops at them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

BAD = Path(__file__).resolve().parent / "bad"

CASES = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))


def test_corpus_is_complete():
    files = {p.name for p in BAD.iterdir() if p.name != "expected.json"}
    assert files == set(CASES) and len(CASES) >= 70


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


@pytest.mark.parametrize("name", ["malformed_line.jsonl", "classify_for_sft.jsonl", "kto_bad_row_then_chat_row.jsonl"])
def test_check_one_file_exact_message(name, cli):
    case = CASES[name]
    proc = cli("data", "check", name, *case["args"], cwd=BAD)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == case["message"]
    problems = [line for line in lines if not line.startswith("rejected ")]  # + a "rejected N of M rows" summary
    assert all(line.startswith(name + ":") for line in problems) and len(lines) - len(problems) <= 1


def test_check_lists_every_row_after_a_rejected_first_row(cli):
    """A first row of the needed kind refused by a rule settles the file's kind: a later row of another kind
    is one more rejected row, not a whole-file error that hid the rows before it."""
    proc = cli("data", "check", "kto_bad_row_then_chat_row.jsonl", "--task", "kto", cwd=BAD)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert [line.split(": ")[0] for line in proc.stderr.splitlines()] == [
        "kto_bad_row_then_chat_row.jsonl:1", "kto_bad_row_then_chat_row.jsonl:2", "rejected 2 of 3 rows"]
    assert "chat rows where kto rows are needed" in proc.stderr.splitlines()[1]


def test_convert_stops_at_bad_row_and_leaves_no_output(tmp_path, cli):
    out = tmp_path / "out.jsonl"
    proc = cli("data", "convert", "unknown_role_messages.jsonl", "--to", "sharegpt", "-o", str(out), cwd=BAD)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == CASES["unknown_role_messages.jsonl"]["message"]
    assert list(tmp_path.iterdir()) == []  # neither output nor temp file


def test_training_load_reports_rejected_rows(capsys):
    from mgtrainer.data import load_splits

    cfg = SimpleNamespace(train=[str(BAD / "wrong_order_messages.jsonl")], eval=None, dataset_dir=None, format=None,
                          mix=None, val_size=None, max_samples=None, seed=1)
    splits = load_splits(cfg, "chat")
    assert len(splits.train) == 1 and len(splits.rejected) == 1
    source, reason = splits.rejected[0]
    assert source.endswith("wrong_order_messages.jsonl:2") and reason.startswith("wrong role order")
    err = capsys.readouterr().err
    assert "1 rows rejected (1 kept)" in err and "wrong_order_messages.jsonl:2: wrong role order" in err


@pytest.mark.parametrize("name", ["nan_label.jsonl", "lone_surrogate.jsonl", "deep_nesting.jsonl", "huge_integer.jsonl",
                                  "nan_in_array.json", "rerank_score_high.jsonl", "csv_label_not_json.csv",
                                  "dangling_link.jsonl", "looping_link.jsonl"])
def test_convert_refuses_and_writes_nothing(name, tmp_path, cli):
    proc = cli("data", "convert", name, "--to", "messages" if "surrogate" in name else "rerank",
               "-o", str(tmp_path / "out.jsonl"), cwd=BAD)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(name + ":")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("row, what", [({"score": float("nan")}, "a value JSON cannot hold"),
                                       ({"text": "a \ud800"}, "a lone surrogate")])
def test_writer_never_writes_invalid_json(row, what, tmp_path):
    from mgtrainer.data.writers import RowWriter
    from mgtrainer.errors import MgtError

    with pytest.raises(MgtError, match=what):
        with RowWriter(tmp_path / "out.jsonl") as out:
            out.write({"text": "fine"})
            out.write(row)
    assert list(tmp_path.iterdir()) == []


def test_parquet_without_pyarrow_is_one_line(tmp_path, monkeypatch):
    """The light core has no pyarrow: reading or writing .parquet says what to do in one line."""
    from mgtrainer.data.readers import read_rows
    from mgtrainer.data.writers import RowWriter
    from mgtrainer.errors import MgtError

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` raises ImportError
    with pytest.raises(MgtError, match=r"nan_score.parquet:1: reading this needs pyarrow.*train env"):
        list(read_rows(BAD / "nan_score.parquet"))
    with pytest.raises(MgtError, match=r"out.parquet:1: writing .parquet needs pyarrow.*train env"):
        with RowWriter(tmp_path / "out.parquet"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_check_and_convert_rerun_in_the_train_env_for_parquet(tmp_path, monkeypatch):
    """Without pyarrow, `data check x.parquet` and `data convert ... -o y.parquet` re-run in the train env."""
    import mgtrainer.env
    from mgtrainer.cli import build_parser
    from mgtrainer.cli import data as data_cli

    calls = []
    monkeypatch.setattr(data_cli, "missing", lambda modules: list(modules))
    monkeypatch.setattr(mgtrainer.env, "ensure", lambda profile, modules, argv: calls.append((profile, modules)) or 7)
    parser = build_parser()
    check = parser.parse_args(["data", "check", str(BAD / "nan_score.parquet"), str(BAD / "empty.jsonl")])
    assert check.func(check) == 7
    convert = parser.parse_args(["data", "convert", str(BAD / "empty.jsonl"),
                                 "--to", "alpaca", "-o", str(tmp_path / "out.parquet")])
    assert convert.func(convert) == 7
    assert calls == [("train", ["pyarrow"]), ("train", ["pyarrow"])]
    plain = parser.parse_args(["data", "check", str(BAD / "empty.jsonl")])
    assert data_cli.needs_for_check(plain) == []


TOOL = Path(__file__).resolve().parents[2] / "tools" / "dataformat_trans.py"


def test_dataformat_trans_runs_with_a_bare_python(tmp_path):
    """-I -S: no site-packages at all (no pydantic, yaml, rich), no PYTHONPATH: as a bare python3."""
    import subprocess

    src = tmp_path / "in.jsonl"
    src.write_text('{"instruction": "hi", "output": "yo"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "-I", "-S", str(TOOL), str(src), "--to", "sharegpt", "-o", str(out)],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["conversations"][1] == {"from": "gpt", "value": "yo"}
    bad = subprocess.run([sys.executable, "-I", "-S", str(TOOL), str(BAD / "nan_label.jsonl"), "--to", "rerank",
                          "-o", str(tmp_path / "x.jsonl")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip() == CASES["nan_label.jsonl"]["message"].replace(
        "nan_label.jsonl", str(BAD / "nan_label.jsonl"), 1)


def test_dataformat_trans_parquet_without_core_goes_through_bootstrap(tmp_path, monkeypatch):
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location("dataformat_trans", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    ran = []
    monkeypatch.setattr(tool, "missing", lambda modules: list(modules))
    monkeypatch.setattr(os, "execvp", lambda prog, argv: ran.append(argv))
    args = ["in.jsonl", "--to", "alpaca", "-o", str(tmp_path / "out.parquet")]
    tool.main(args)
    assert ran and ran[0][:2] == ["bash", "-c"] and ran[0][3].endswith("script/env/_bootstrap.sh")
    assert ran[0][4:] == ["data", "convert", *args]


def _cfg(**kw):
    from mgtrainer.data.loaders import DataOptions

    return DataOptions.of(SimpleNamespace(**{"eval": None, "dataset_dir": None, "format": None, "mix": None,
                                             "val_size": None, "max_samples": None, "seed": 1} | kw))


def test_label_variants_are_refused_across_train_and_eval(tmp_path):
    from mgtrainer.data import load_splits

    train, evals = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    train.write_text("".join(json.dumps({"text": f"t{i}", "label": lab}) + "\n" for i, lab in enumerate(["pos", "neg"])))
    evals.write_text(json.dumps({"text": "e", "label": "Pos"}) + "\n" + json.dumps({"text": "f", "label": "neg"}) + "\n")
    splits = load_splits(_cfg(train=[str(train)], eval=[str(evals)]), "classify")
    assert [r.label for r in splits.train] == ["pos", "neg"] and [r.label for r in splits.eval] == ["neg"]
    assert splits.rejected[0][0].endswith("eval.jsonl:1") and "differs from 'pos'" in splits.rejected[0][1]


def test_identical_pairs_are_rejected_at_training_load():
    from mgtrainer.data import load_splits

    splits = load_splits(_cfg(train=[str(BAD / "chosen_equals_rejected.jsonl")]), "preference")
    assert len(splits.train) == 1 and splits.rejected[0][0].endswith("chosen_equals_rejected.jsonl:2")


def test_seed_zero_is_seed_zero():
    """`seed or 42` made seed 0 the same split as seed 42."""
    from mgtrainer.data.loaders import DataOptions, _split

    assert _cfg(seed=0).seed == 0 and DataOptions.of(SimpleNamespace(train="a.jsonl")).seed == 42
    rows = [[object() for _ in range(50)]]
    zero, forty_two = _split(rows, 10, _cfg(seed=0).seed)[1], _split(rows, 10, 42)[1]
    assert zero != forty_two


def test_needed_modules_for_parquet_datasets_folders_and_plain_files(tmp_path):
    from mgtrainer.data.readers import needed_modules

    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "state.json").write_text("{}")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.jsonl").write_text("{}\n")
    (mixed / "b.parquet").write_bytes((BAD / "nan_score.parquet").read_bytes())
    assert needed_modules(saved) == ["datasets"] and needed_modules(mixed) == ["pyarrow"]
    assert needed_modules(BAD / "empty.jsonl") == [] and needed_modules(tmp_path / "missing.parquet") == []
    assert needed_modules(BAD / "dangling_link.jsonl") == []


@pytest.mark.parametrize("verb", [["data", "check", "LONG.jsonl"], ["data", "convert", "LONG.jsonl", "--to", "alpaca",
                                                                     "-o", "out.jsonl"],
                                  ["data", "convert", "empty.jsonl", "--to", "alpaca", "-o", "LONG.jsonl"]])
def test_a_file_name_too_long_is_one_short_line(verb, cli):
    long = "x" * 5000
    proc = cli(*[a.replace("LONG", long) for a in verb], cwd=BAD)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "file name too long" in line and len(line) < 250


@pytest.mark.parametrize("entry, message", [
    ('"a.json"', "dataset 'demo' is a str, not an object (demo); expected an object with file_name, formatting, "
                 "columns, ..."),
    ('{"file_name": "a.json", "columns": ["x"]}', "wrong columns ['x'] (demo.columns); expected an object of names, "
                                                  'e.g. {"prompt": "instruction"}'),
    ('{"file_name": 5}', "wrong file_name 5 (demo.file_name); expected a file or folder name under dataset_dir"),
    ('{"file_name": "a.json", "tags": "x"}', "wrong tags 'x' (demo.tags); expected an object of names, "
                                            'e.g. {"role_tag": "from"}'),
    ('{"file_name": "a.json", "formatting": {"x": 1}}', "unknown formatting {'x': 1} (demo.formatting); expected "
                                                        "alpaca or sharegpt"),
    ('{"file_name": "a.json", "num_samples": 10}', "demo.num_samples is not supported for a local file (LF samples "
                                                   "this many rows; use data.max_samples); expected the entry without it"),
    ('{"file_name": "a.json", "split": "test"}', "demo.split 'test' is not supported for a local file (LF reads the "
                                                 "file as its train split); expected split: train or no split"),
    ('{"file_name": "a.json", "subset": "x"}', "demo.subset is not supported for a local file (a subset of a hub "
                                               "dataset); expected the entry without it"),
])
def test_bad_dataset_info_entry_is_one_line(entry, message, tmp_path, cli):
    (tmp_path / "a.json").write_text("[]")
    (tmp_path / "dataset_info.json").write_text('{"demo": %s}' % entry)
    proc = cli("data", "check", "demo", "--dataset-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"{tmp_path / 'dataset_info.json'}:1: {message}"


def test_a_dataset_name_defined_twice_is_refused(tmp_path, cli):
    (tmp_path / "a.json").write_text('[{"instruction": "a", "output": "b"}]')
    (tmp_path / "dataset_info.json").write_text('{"demo": {"file_name": "a.json"}, "demo": {"file_name": "b.json"}}')
    proc = cli("data", "check", "demo", "--dataset-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == (f"{tmp_path / 'dataset_info.json'}:1: dataset 'demo' "
                                                            "defined twice (or a key repeated in an entry) (file); "
                                                            "expected each name once")


def test_a_dataset_file_outside_dataset_dir_is_refused(tmp_path, cli):
    (tmp_path / "outside.json").write_text('[{"instruction": "a", "output": "b"}]')
    reg = tmp_path / "reg"
    reg.mkdir()
    (reg / "dataset_info.json").write_text('{"demo": {"file_name": "../outside.json"}}')
    proc = cli("data", "check", "demo", "--dataset-dir", str(reg), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"{reg / 'dataset_info.json'}:1: file of dataset 'demo' is outside dataset_dir: {reg / '../outside.json'} "
        "(demo.file_name); expected a file or folder under dataset_dir (or its path in data.train directly)")


def test_rows_that_do_not_fit_one_parquet_schema_are_one_line(tmp_path, cli):
    src = tmp_path / "mixed.jsonl"
    src.write_text('{"instruction": "a", "output": "b", "extra": 1}\n{"instruction": "c", "output": "d", "extra": "s"}\n')
    out = tmp_path / "out" / "mixed.parquet"
    proc = cli("data", "convert", str(src), "--to", "alpaca", "-o", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"{out}:1: rows 1-2 do not fit one parquet schema (")
    assert not out.exists() and list(out.parent.iterdir()) == []


@pytest.mark.parametrize("make, what", [(os.mkfifo, "a named pipe (FIFO)"), (None, "a character device")])
def test_a_pipe_or_a_device_is_refused_before_reading(tmp_path, cli, make, what):
    """Reading a FIFO waits for a writer forever and /dev/zero never ends: both are refused by their kind."""
    path = tmp_path / "rows.jsonl"
    if make:
        make(path)
    else:
        path = Path("/dev/zero")
    for args in (("data", "check", str(path)), ("data", "convert", str(path), "--to", "messages",
                                                 "-o", str(tmp_path / "out.jsonl"))):
        proc = cli(*args)
        assert proc.returncode == 2 and proc.stderr.strip() == (f"{path}:1: {what}, not a file (IN)" if args[1] ==
                                                                "convert" else f"{path}:1: {what}, not a file (path)") \
            + "; expected a regular data file or folder"
