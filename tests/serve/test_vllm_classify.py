"""A served classifier (MiniLM + 4-label head): /classify and /pooling, parity with transformers."""

from __future__ import annotations

import pytest
from servehelp import API_KEY, assert_guarded, http, start_server

from mgtrainer import manifest as mf
from mgtrainer.serve.check import check

pytestmark = [pytest.mark.heavy, pytest.mark.serve]


@pytest.fixture(scope="module")
def server(final_dir, serve_env):
    s = start_server(final_dir("classify"))
    yield s
    s.stop()


def test_parity_with_transformers(server):
    result = check(server.path, server.url, server.name, API_KEY)
    assert result.ok, result
    assert result.endpoint == "/classify" and result.value <= 1e-4


def test_classify_returns_trained_labels_and_probabilities(server):
    labels = mf.read(server.path).labels
    status, answer = http(server.url + "/classify", {"model": server.name, "input": ["play jazz", "rain tomorrow?"]})
    assert status == 200, answer
    for row in answer["data"]:
        assert row["num_classes"] == len(labels) and abs(sum(row["probs"]) - 1) < 1e-5
        assert row["label"] == labels[row["probs"].index(max(row["probs"]))]


def test_pooling_endpoint_answers(server):
    status, answer = http(server.url + "/pooling", {"model": server.name, "input": "play jazz"})
    assert status == 200 and answer["data"], answer


def test_auth_and_malformed_requests(server):
    assert_guarded(server.url, "/classify", {"model": server.name, "input": ["x"]}, {"model": server.name, "input": 5})
