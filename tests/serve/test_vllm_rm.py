"""A served reward model (tiny Qwen2 + 1-logit head): the raw reward logit, equal to the training forward."""

from __future__ import annotations

import pytest
from servehelp import API_KEY, assert_guarded, http, start_server

from mgtrainer.serve.check import check
from mgtrainer.serve.engines import HFEngine

pytestmark = [pytest.mark.heavy, pytest.mark.serve]


@pytest.fixture(scope="module")
def server(final_dir, serve_env):
    s = start_server(final_dir("rm"))
    yield s
    s.stop()


def test_parity_with_transformers(server):
    result = check(server.path, server.url, server.name, API_KEY)
    assert result.ok, result


def test_classify_gives_the_raw_logit_not_a_probability(server):
    texts = ["<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n", "short", "a b c d e f g"]
    status, answer = http(server.url + "/classify", {"model": server.name, "input": texts})
    assert status == 200, answer
    served = [row["probs"] for row in answer["data"]]
    assert all(len(p) == 1 for p in served)
    ref = HFEngine(server.path, progress=False).score(texts)
    assert max(abs(p[0] - r) for p, r in zip(served, ref)) < 1e-4
    assert any(not 0.0 <= p[0] <= 1.0 for p in served) or max(ref) - min(ref) < 1  # no sigmoid squashing


def test_auth_and_malformed_requests(server):
    assert_guarded(server.url, "/classify", {"model": server.name, "input": ["x"]}, {"model": server.name})
