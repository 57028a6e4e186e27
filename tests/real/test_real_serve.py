"""The trained real model (SmolLM2 LoRA sft, merged) served by vLLM on CPU: the openai client gets the learned
answers and the turn ends at <|im_end|> (the manifest's eos reaches vLLM), `serve --check` parity holds, and
`predict --engine vllm` equals `--engine hf` on held-out prompts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
import servehelp  # noqa: E402
from servehelp import API_KEY  # noqa: E402

from mgtrainer.serve import rows as R  # noqa: E402

pytestmark = [pytest.mark.heavy, pytest.mark.serve]
REPO = Path(__file__).resolve().parents[2]
HELDOUT = REPO / "script/examples/real/data/dates_heldout.jsonl"


def heldout(n: int) -> list[tuple[str, str]]:
    rows = [json.loads(line)["messages"] for line in HELDOUT.read_text().splitlines()[:n]]
    return [(m[0]["content"], m[1]["content"]) for m in rows]


@pytest.fixture(scope="module")
def server(real_sft):
    from mgtrainer import env

    env.python("serve")  # built on demand (minutes the first time)
    with servehelp.cli_server(real_sft) as info:
        yield info | {"model": real_sft}


def test_openai_client_gets_the_learned_answers_and_stops_at_im_end(server):
    from openai import OpenAI

    client = OpenAI(base_url=server["url"] + "/v1", api_key=API_KEY)
    name = client.models.list().data[0].id
    right = 0
    for prompt, answer in heldout(6):
        chat = client.chat.completions.create(model=name, messages=[{"role": "user", "content": prompt}],
                                              max_tokens=40, temperature=0)
        choice = chat.choices[0]
        assert choice.finish_reason == "stop", choice  # eos = <|im_end|> ends the turn, not max_tokens
        assert "<|im_end|>" not in choice.message.content and chat.usage.completion_tokens < 40
        right += choice.message.content.strip() == answer
    assert right >= 3  # the short run's skill, served


def test_serve_check_parity_on_the_real_model(server):
    env = dict(os.environ, MGT_API_KEY=API_KEY)
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "serve", str(server["model"]), "--check",
                           "--url", server["url"]], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_predict_vllm_equals_hf_on_held_out_prompts(real_sft, tmp_path, server):
    from mgtrainer.serve.predict import predict

    src = tmp_path / "prompts.jsonl"
    src.write_text("".join(json.dumps({"id": i, "prompt": p}) + "\n" for i, (p, _) in enumerate(heldout(8))))
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "predict", str(real_sft), "--input", str(src),
                           "--output", str(tmp_path / "vllm.jsonl"), "--max-new-tokens", "16"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    predict(real_sft, src, tmp_path / "hf.jsonl", engine="hf", progress=False, max_new_tokens=16)
    got, ref = R.read_rows(tmp_path / "vllm.jsonl"), R.read_rows(tmp_path / "hf.jsonl")
    assert [r["prediction"] for r in got] == [r["prediction"] for r in ref]
    assert sum(r["prediction"].strip() == a for r, (_, a) in zip(got, heldout(8))) >= 4


def test_chat_streams_from_the_running_server_with_history(server):
    """`mgtrainer chat OUT --url URL`: the streamed answer is the server's greedy one; the second turn goes with
    the first in its history (the server sees both), /exit leaves."""
    from openai import OpenAI

    (q1, _), (q2, _) = heldout(2)
    client = OpenAI(base_url=server["url"] + "/v1", api_key=API_KEY)
    name = client.models.list().data[0].id
    first = client.chat.completions.create(model=name, messages=[{"role": "user", "content": q1}], max_tokens=16,
                                           temperature=0).choices[0].message.content
    second = client.chat.completions.create(model=name, max_tokens=16, temperature=0, messages=[
        {"role": "user", "content": q1}, {"role": "assistant", "content": first},
        {"role": "user", "content": q2}]).choices[0].message.content
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "chat", str(server["model"]), "--url", server["url"],
                           "--max-new-tokens", "16"], input=f"{q1}\n{q2}\n/exit\n", cwd=REPO, capture_output=True,
                          text=True, env=dict(os.environ, MGT_API_KEY=API_KEY), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f">>> {first}\n>>> {second}\n>>> " in proc.stdout, proc.stdout
