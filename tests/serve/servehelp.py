"""Helpers for the serving tests: start a real vLLM server, call it over plain HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

API_KEY = "mgt-test-key"


def start_server(path: Path, **opts):
    """A started mgtrainer.serve.vllm.Server on a free port with API_KEY (caller stops it)."""
    from mgtrainer.serve.vllm import ServeOptions, Server

    return Server(path, ServeOptions(port=0, api_key=API_KEY, **opts)).start(timeout=900)


def http(url: str, body: dict | str | None = None, key: str | None = API_KEY) -> tuple[int, dict]:
    """(status, JSON answer) of a POST (GET when body is None); HTTP errors are returned, not raised."""
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    req = urllib.request.Request(url, data=data, headers=headers, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as err:
        text = err.read()
        try:
            return err.code, json.loads(text)
        except ValueError:
            return err.code, {"raw": text.decode(errors="replace")}


def assert_guarded(url: str, endpoint: str, good: dict, bad: dict | str) -> None:
    """No key -> 401; a malformed body -> 4xx; then the server still answers a good request."""
    assert http(url + endpoint, good, key=None)[0] == 401
    assert http(url + endpoint, good, key="wrong-key")[0] == 401
    status, _ = http(url + endpoint, bad)
    assert 400 <= status < 500, status
    status, answer = http(url + endpoint, good)
    assert status == 200, answer
