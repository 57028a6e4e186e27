"""Every registered task satisfies the task contract, and a new task needs its module + one registry line.

The toy task lives in a temporary module (tmp_path on sys.path) and joins the registry through one
monkeypatched TASKS entry; no other file knows it. It trains, evaluates, gets its vLLM argv and its
predict requests through the same paths as the real tasks.
"""

from __future__ import annotations

import inspect
import json
import textwrap

import pytest

from mgtrainer import tasks
from mgtrainer.tasks.contract import Serve, Task

TOY = '''
"""toy: a causal LM on plain text, one row per document (written by tests/test_contract.py)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

from mgtrainer.driver.causal import CausalTask
from mgtrainer.tasks.contract import Serve
from mgtrainer.driver.serving import (
    completions as served, first, generate as call, generated_text as response, no_settings as serve_settings,
    same_generations as compare)

HEAD = "causal_lm"
RECORD = "text"
SERVE = Serve(runner="generate", endpoints=("/v1/completions",))
STREAMING = False


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["toy"] = "toy"


def tokenizer(cfg, model_cfg):
    from mgtrainer.driver.model import load_tokenizer

    return load_tokenizer(model_cfg, HEAD), "model"


def encode(cfg, tok, records, labels=None):
    from mgtrainer.driver.tokenize import pack_texts

    return pack_texts(tok, records, cfg.data.cutoff_len, False)


_FLOW = CausalTask(HEAD, RECORD, tokenizer, encode)
run, evaluate = _FLOW.run, _FLOW.evaluate


def request(row, manifest, tok):
    return tok(first(row, ("text",), "text")).input_ids


def probe(manifest):
    return [{"text": "toy"}]
'''


MEMBERS = ("Config", "HEAD", "RECORD", "SERVE", "STREAMING")
METHODS = ("run", "evaluate", "serve_settings", "request", "call", "response", "probe", "served", "compare")


@pytest.mark.parametrize("name", list(tasks.TASKS))
def test_every_registered_task_satisfies_the_contract(name):
    task = tasks.get(name)
    missing = [m for m in (*MEMBERS, *METHODS) if not hasattr(task, m)]
    assert isinstance(task, Task) and not missing, missing
    assert isinstance(task.SERVE, Serve) and task.SERVE.runner in ("generate", "pooling") and task.SERVE.endpoints
    assert task.Config.model_fields["name"].default == name
    for method in METHODS:
        expected = list(inspect.signature(getattr(Task, method)).parameters)[1:]  # without self
        assert list(inspect.signature(getattr(task, method)).parameters) == expected, (name, method)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy task module, registered under "toy" for this test only."""
    (tmp_path / "toy_task.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(tasks.TASKS, "toy", "toy_task")
    return tasks.get("toy")


def test_a_toy_task_trains_evaluates_serves_and_predicts(toy, tiny_llama, tmp_path, monkeypatch):
    from mgtrainer import manifest as mf
    from mgtrainer.app import runs
    from mgtrainer.config import load_config
    from mgtrainer.serve import engines, predict, rows
    from mgtrainer.serve.vllm import ServeOptions, vllm_args

    assert isinstance(toy, Task)
    data = tmp_path / "docs.jsonl"
    data.write_text("".join(json.dumps({"text": f"document {i} says hello to the toy task"}) + "\n" for i in range(12)))
    out = tmp_path / "toy_out"
    cfg = load_config({"task": "toy", "model": str(tiny_llama),
                       "data": {"train": [str(data)], "val_size": 4, "cutoff_len": 32},
                       "train": {"output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 4,
                                 "save_steps": 100, "preview_samples": 0, "report_to": "none"}})
    metrics = runs.train(cfg)
    assert metrics["eval_loss"] > 0 and mf.read(out / "final").task == "toy"
    assert runs.evaluate(cfg)["eval_loss"] == pytest.approx(metrics["eval_loss"], rel=1e-4)

    monkeypatch.setenv("MGT_TORCH", "cpu")
    argv = vllm_args(out, ServeOptions())
    assert argv[argv.index("--runner") + 1] == "generate" and "--convert" not in argv

    manifest, tok = mf.read(out), engines.load_tokenizer(mf.model_dir(out))
    row = rows.Row({"text": "hello"})
    assert predict.requests(toy, manifest, tok, [row]) == [tok("hello").input_ids]
    assert toy.response(tok("hi", add_special_tokens=False).input_ids, manifest, tok)["prediction"].strip() == "hi"
