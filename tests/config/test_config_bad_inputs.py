"""The bad-config corpus (tests/config/bad/): each file (plus its overrides) gives its exact one-line message
through the real command line (`mgtrainer config show`), exit code 2, no traceback, a bounded length.
Folders in bad/ are fixtures the configs point at (a model folder), not cases."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mgtrainer.cli import main

BAD = Path(__file__).resolve().parent / "bad"
CASES = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))
LONGEST = 600  # no message echoes a whole input (a YAML alias bomb once produced a 254 MB line)


def test_corpus_is_complete():
    files = {p.name for p in BAD.iterdir() if p.is_file() and p.name != "expected.json"}
    assert files == set(CASES) and len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_config_is_one_exact_line(name, capsys, monkeypatch):
    monkeypatch.chdir(BAD)  # output_dir and model paths in the corpus are relative to it
    code = main(["config", "show", name, *CASES[name]["args"]])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.splitlines() == [CASES[name]["message"]]
    assert len(err.rstrip("\n")) <= LONGEST  # the line itself, cut at config.messages.LINE


def test_python_tag_is_never_run(tmp_path, capsys):
    marker = tmp_path / "ran"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f'task: sft\nmodel: m\nseed: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert main(["config", "show", str(cfg)]) == 2
    assert not marker.exists() and "is not allowed" in capsys.readouterr().err


def test_non_finite_refused_in_every_section_and_the_task():
    from mgtrainer.config import load_config
    from mgtrainer.errors import MgtError

    base = {"task": "rm", "model": "m"}
    for key in ("learning_rate", "warmup_ratio", "lora_dropout", "margin", "val_size"):
        for value in (float("inf"), float("-inf"), float("nan")):
            with pytest.raises(MgtError, match="not a finite number"):
                load_config({**base, key: value})


def _fuzz_texts():
    from hypothesis import strategies as st

    words = st.sampled_from(["task", "sft", "rm", "model", "m", "learning_rate", "lr", "train", "data", "seed", "lora",
                             "rank", ".inf", ".nan", "1e999", "!!python/name:os.system", "&a", "*a", "[", "]", "{",
                             "}", ":", ": ", "- ", "\n", "\n  ", "\t", "'", '"', "#", "~", "null", "true", "no",
                             "output_dir", "report_to", "9" * 5000, "\ud800", "é"])
    return st.lists(words, max_size=30).map("".join)


def test_any_yaml_text_is_a_config_or_one_line(tmp_path_factory):
    from hypothesis import given, settings

    from mgtrainer.config import load_config
    from mgtrainer.errors import MgtError

    @settings(max_examples=int(os.environ.get("MGT_FUZZ_EXAMPLES", 300)), deadline=None)
    @given(_fuzz_texts())
    def check(text):
        path = tmp_path_factory.mktemp("cfg") / "cfg.yaml"
        path.write_bytes(("task: sft\nmodel: m\n" + text).encode("utf-8", "surrogatepass"))
        try:
            load_config(path)
        except MgtError as err:
            assert "\n" not in str(err) and len(str(err)) <= LONGEST

    check()
