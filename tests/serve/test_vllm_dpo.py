"""`mgtrainer serve` of a trained dpo model (a causal LM, served like sft's): the greedy generations of the real
vLLM server equal transformers' (`serve --check --url`: identical 32-token greedy outputs on the probe rows)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import servehelp
from servehelp import API_KEY

pytestmark = [pytest.mark.heavy, pytest.mark.serve]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained_dpo(tiny_qwen2, shared_data, tmp_path_factory) -> Path:
    import yaml

    from mgtrainer.app.runs import train

    cfg = yaml.safe_load((REPO / "script/examples/dpo/dpo_tiny.yaml").read_text())
    out = tmp_path_factory.mktemp("trained") / "dpo_tiny"
    cfg["model"]["name_or_path"] = str(tiny_qwen2)
    cfg["data"].update(train=[str(shared_data / "llama-factory/dpo_en_demo.json")], max_samples=12, val_size=0)
    cfg["train"].update(output_dir=str(out), max_steps=2, eval_strategy="no", save_steps=100)
    train(cfg)
    return out


def test_served_dpo_model_generates_what_transformers_generates(trained_dpo, serve_env):
    with servehelp.cli_server(trained_dpo, "--max-num-seqs", "4") as info:
        env = dict(os.environ, MGT_API_KEY=API_KEY)
        proc = subprocess.run([sys.executable, "-m", "mgtrainer", "serve", str(trained_dpo), "--check", "--url",
                               info["url"]], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"parity dpo: /v1/chat/completions +identical greedy generations \(32 tokens\) = 3 .*PASS",
                     proc.stdout), proc.stdout
