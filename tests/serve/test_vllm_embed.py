"""A served embedder (all-MiniLM-L6-v2, mean pooling + normalise) through the openai client."""

from __future__ import annotations

import math

import pytest
from servehelp import API_KEY, assert_guarded, start_server

from mgtrainer.serve.check import check

pytestmark = [pytest.mark.heavy, pytest.mark.serve]


@pytest.fixture(scope="module")
def server(final_dir, serve_env):
    s = start_server(final_dir("embed"))
    yield s
    s.stop()


def test_parity_with_transformers(server):
    result = check(server.path, server.url, server.name, API_KEY)
    assert result.ok and result.value >= 0.9999, result


def test_openai_client_embeddings_are_unit_vectors(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key=API_KEY)
    out = client.embeddings.create(model=server.name, input=["capital of France", "Paris is the capital of France.",
                                                              "The quick brown fox."])
    vecs = [d.embedding for d in out.data]
    assert all(len(v) == 384 for v in vecs)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in vecs)
    sim = [sum(a * b for a, b in zip(vecs[0], v)) for v in vecs[1:]]
    assert sim[0] > sim[1]  # the real MiniLM ranks the relevant passage first


def test_auth_and_malformed_requests(server):
    assert_guarded(server.url, "/v1/embeddings", {"model": server.name, "input": ["x"]},
                   {"model": server.name, "input": {"not": "text"}})
