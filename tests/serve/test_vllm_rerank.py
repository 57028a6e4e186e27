"""A served reranker (MiniLM cross-encoder, 1-logit head): /rerank, /v1/rerank and /score agree."""

from __future__ import annotations

import pytest
from servehelp import API_KEY, assert_guarded, http, start_server

from mgtrainer.serve.check import check

pytestmark = [pytest.mark.heavy, pytest.mark.serve]
DOCS = ["Paris is the capital of France.", "The quick brown fox.", "Eat a balanced diet."]


@pytest.fixture(scope="module")
def server(final_dir, serve_env):
    s = start_server(final_dir("rerank"))
    yield s
    s.stop()


def test_parity_with_transformers(server):
    result = check(server.path, server.url, server.name, API_KEY)
    assert result.ok and result.endpoint == "/score", result


def test_rerank_endpoints_sort_by_the_score_endpoint(server):
    status, scored = http(server.url + "/score", {"model": server.name, "queries": "capital of France",
                                                  "documents": DOCS})
    assert status == 200, scored
    scores = [d["score"] for d in sorted(scored["data"], key=lambda d: d["index"])]
    for endpoint in ("/rerank", "/v1/rerank"):
        status, ranked = http(server.url + endpoint, {"model": server.name, "query": "capital of France",
                                                      "documents": DOCS})
        assert status == 200, ranked
        results = ranked["results"]
        assert [r["index"] for r in results] == sorted(range(3), key=lambda i: -scores[i])
        assert all(abs(r["relevance_score"] - scores[r["index"]]) < 1e-5 for r in results)
        assert results[0]["document"]["text"] == DOCS[results[0]["index"]]


def test_auth_and_malformed_requests(server):
    assert_guarded(server.url, "/rerank", {"model": server.name, "query": "q", "documents": ["d"]},
                   {"model": server.name, "query": "q"})
