"""~ and $VAR in paths are expanded once, in the config layer, so every backend (native, LLaMA-Factory from a
RunConfig, an LLaMA-Factory YAML passed through) gets the same path; an unset variable is one line."""

import pytest

from mgtrainer.backends.llamafactory import expand_paths
from mgtrainer.config import load_config
from mgtrainer.errors import MgtError


def test_home_and_variables_in_every_path_field(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RUNS", str(tmp_path / "runs"))
    cfg = load_config({"task": "sft", "model": "~/models/base", "data": {"train": ["~/a.jsonl", "$RUNS/b.jsonl"],
                       "eval": "${RUNS}/c.jsonl", "dataset_dir": "~/data", "media_dir": "$HOME/media"},
                       "train": {"output_dir": "$RUNS/one", "resume_from_checkpoint": "~/ck/checkpoint-2"}})
    assert cfg.model.name_or_path == f"{tmp_path}/models/base"
    assert cfg.data.train == [f"{tmp_path}/a.jsonl", f"{tmp_path}/runs/b.jsonl"]
    assert cfg.data.eval == [f"{tmp_path}/runs/c.jsonl"]
    assert (cfg.data.dataset_dir, cfg.data.media_dir) == (f"{tmp_path}/data", f"{tmp_path}/media")
    assert cfg.train.output_dir == f"{tmp_path}/runs/one"
    assert cfg.train.resume_from_checkpoint == f"{tmp_path}/ck/checkpoint-2"
    over = load_config({"task": "sft", "model": "m", "data": {"train": ["x.jsonl"]}}, ["train.output_dir=~/two"])
    assert over.train.output_dir == f"{tmp_path}/two"
    lf = expand_paths({"model_name_or_path": "~/m", "output_dir": "$RUNS/lf", "dataset": "~/a.jsonl,alpaca_en_demo",
                       "learning_rate": 1e-4}, "lf.yaml:1")
    assert lf == {"model_name_or_path": f"{tmp_path}/m", "output_dir": f"{tmp_path}/runs/lf",
                  "dataset": f"{tmp_path}/a.jsonl,alpaca_en_demo", "learning_rate": 1e-4}


def test_an_unset_variable_is_one_line_not_a_folder_named_after_it(monkeypatch):
    monkeypatch.delenv("NO_SUCH_RUNS", raising=False)
    with pytest.raises(MgtError, match=r"invalid train.output_dir = '\$NO_SUCH_RUNS/x': environment variable "
                                       r"NO_SUCH_RUNS is not set"):
        load_config({"task": "sft", "model": "m", "data": {"train": ["x.jsonl"]},
                     "train": {"output_dir": "$NO_SUCH_RUNS/x"}})
    with pytest.raises(MgtError, match=r"lf.yaml:1: output_dir = '\$NO_SUCH_RUNS/x': environment variable"):
        expand_paths({"output_dir": "$NO_SUCH_RUNS/x"}, "lf.yaml:1")


def test_an_empty_model_is_refused():
    with pytest.raises(MgtError, match=r"invalid model.name_or_path = '': empty; expected a model folder"):
        load_config({"task": "sft", "model": "", "data": {"train": ["x.jsonl"]}})
