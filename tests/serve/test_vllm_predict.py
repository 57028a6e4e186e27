"""`mgtrainer predict` with vLLM's offline engine (the default) agrees with `--engine hf`."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from mgtrainer.serve import rows as R

pytestmark = [pytest.mark.heavy, pytest.mark.serve]
REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def predict_hf(model, src, out, **kw):
    """The transformers reference, in this process (the CLI path of --engine hf is tested in test_serve_light)."""
    from mgtrainer.serve.predict import predict as run

    run(model, src, out, engine="hf", progress=False, **kw)
    return R.read_rows(out)


def predict(model, src, out, *extra):
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "predict", str(model), "--input", str(src),
                           "--output", str(out), *extra], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return R.read_rows(out)


def test_sft_vllm_generations_equal_transformers(tmp_path, final_dir, serve_env):
    src = tmp_path / "prompts.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": 1, "prompt": "What is the capital of France?"},
        {"id": 2, "messages": [{"role": "user", "content": "Give three tips for staying healthy."}]},
        {"id": 3, "instruction": "Translate the sentence into French.", "input": "The cat sleeps."}]))
    got = predict(final_dir("sft"), src, tmp_path / "vllm.jsonl", "--max-new-tokens", "32")
    ref = predict_hf(final_dir("sft"), src, tmp_path / "hf.jsonl", max_new_tokens=32)
    assert [r["id"] for r in got] == [1, 2, 3]
    assert [r["prediction"] for r in got] == [r["prediction"] for r in ref]
    assert all(r["prediction"] for r in got)


def test_embed_vllm_vectors_from_csv_match_transformers(tmp_path, final_dir, serve_env):
    src = tmp_path / "texts.csv"
    src.write_text("query,note\ncapital of France,a\nhow to stay healthy,b\n")
    got = predict(final_dir("embed"), src, tmp_path / "vllm.csv")
    ref = predict_hf(final_dir("embed"), src, tmp_path / "hf.csv")
    assert [r["note"] for r in got] == ["a", "b"]
    for a, b in zip(got, ref):
        u, v = json.loads(a["prediction"]), json.loads(b["prediction"])
        assert len(u) == 384
        cos = sum(x * y for x, y in zip(u, v)) / math.sqrt(sum(x * x for x in u) * sum(y * y for y in v))
        assert cos >= 0.9999
