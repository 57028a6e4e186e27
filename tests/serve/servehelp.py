"""Helpers for the serving tests: start a real vLLM server, call it over plain HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

API_KEY = "mgt-test-key"


def start_server(path: Path, **opts):
    """A started mgtrainer.serve.vllm.Server on a free port with API_KEY (caller stops it)."""
    from mgtrainer.serve.vllm import ServeOptions, Server

    return Server(path, ServeOptions(port=0, api_key=API_KEY, **opts)).start(timeout=900)


@contextlib.contextmanager
def cli_server(out: Path, *vllm_args: str):
    """`mgtrainer serve OUT --port P [-- vllm args]` started as a user would (key from MGT_API_KEY), read up
    to its banner's last line; yields {"proc", "url", "banner"}. Afterwards stopped as Ctrl-C would, unless
    a test stopped it already (SIGKILL of the group if it hangs: vLLM follows via PR_SET_PDEATHSIG)."""
    from mgtrainer.serve.vllm import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "mgtrainer", "serve", str(out), "--port", str(port)]
    proc = subprocess.Popen(cmd + (["--", *vllm_args] if vllm_args else []), cwd=Path(__file__).resolve().parents[2],
                            env=dict(os.environ, MGT_API_KEY=API_KEY), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    lines = []
    for line in proc.stdout:  # until the banner's last line, or mgtrainer exits
        lines.append(line)
        if line.startswith("Ctrl-C stops the server"):
            break
    try:
        yield {"proc": proc, "url": f"http://127.0.0.1:{port}", "banner": "".join(lines)}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


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
