"""`mgtrainer train` parses its config once: the process that re-runs itself in the train env hands the
resolved config over (app/runs.py hand_over), and the re-run takes it instead of parsing again."""

import os
from pathlib import Path

import pytest

from mgtrainer.app import runs
from mgtrainer.config import load_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "script" / "examples").glob("*/*.yaml"))


def test_examples_round_trip_through_the_handoff(monkeypatch):
    """Every example config (with an ignored key, for a note) comes back equal, notes and source included."""
    assert EXAMPLES
    for path in EXAMPLES:
        overrides = ["train.learning_rate=3e-4", "do_train=true"]
        cfg = load_config(path, overrides)
        with runs.hand_over(cfg, path, overrides):
            name = os.environ[runs.HANDOFF]
            monkeypatch.setattr("mgtrainer.config.load_config", lambda *a: pytest.fail("parsed a second time"))
            got = runs.load_run(path, overrides, notes=False)
            monkeypatch.undo()
            assert runs.HANDOFF not in os.environ  # taken once: a process started from here parses its own
        assert got.model_dump() == cfg.model_dump(), path
        assert (got.notes, got.source) == (cfg.notes, cfg.source) and got.notes, path
        assert not Path(name).exists()  # closed: the file is gone


def test_other_arguments_parse_their_own(tmp_path):
    """A handed-over config is only taken for the same config file and overrides."""
    path = EXAMPLES[0]
    cfg = load_config(path, [])
    with runs.hand_over(cfg, path, []):
        got = runs.load_run(path, ["train.learning_rate=7e-4"], notes=False)
    assert got.train.learning_rate == 7e-4 != cfg.train.learning_rate
    assert runs.HANDOFF not in os.environ
