"""A LLaMA-Factory-trained model served through vLLM: `mgtrainer train --llamafactory` -> `mgtrainer serve`.

The LF run is the one tests/backends/test_lf_heavy.py makes (a real LoRA sft on the tiny Qwen2, merged
into final/ with the mgtrainer manifest); tests/backends/lfrun.py keeps it for the session, so this
module trains only when run alone. The server is started as a user would, queried with the official
openai client and checked for parity with transformers (the lifecycle is test_vllm_sft's).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import servehelp
from servehelp import API_KEY


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))
import lfrun  # noqa: E402

pytestmark = [pytest.mark.heavy, pytest.mark.serve, pytest.mark.llamafactory]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lf_out(tmp_path_factory, tiny_qwen2, shared_data) -> Path:
    from mgtrainer import env

    env.python("llamafactory")  # built on demand by the env layer
    code, out = lfrun.lora_sft(tmp_path_factory.getbasetemp(), tiny_qwen2, shared_data)
    assert code == 0, "the LLaMA-Factory run failed (see tests/backends/test_lf_heavy.py)"
    return out


@pytest.fixture(scope="module")
def lf_server(lf_out, serve_env):
    with servehelp.cli_server(lf_out) as info:
        yield info | {"out": lf_out}


def test_lf_model_answers_chat_completions_with_the_openai_client(lf_server):
    from openai import OpenAI

    assert lf_server["proc"].poll() is None, lf_server["banner"]
    assert "serving sft model 'out'" in lf_server["banner"]
    client = OpenAI(base_url=lf_server["url"] + "/v1", api_key=API_KEY)
    answer = client.chat.completions.create(model="out", messages=[{"role": "user", "content": "What is 2 + 2?"}],
                                            max_tokens=16, temperature=0)
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage.completion_tokens >= 1 and answer.usage.prompt_tokens > 5


def test_lf_model_served_equals_transformers(lf_server):
    """Greedy chat generations over /v1/chat/completions equal transformers' on the merged LF model."""
    from mgtrainer.serve.check import check

    result = check(lf_server["out"], lf_server["url"], "out", API_KEY)
    assert result.ok, result
