"""`mgtrainer serve` next to another server (issue 11): a busy port is one line and exit 2 before anything
starts, the other server keeps answering; each server gets its own log; a /health answer counts only
when it comes from our own child. Real processes (a plain http.server plays the other server); no vLLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mgtrainer import manifest as mf
from mgtrainer.errors import MgtError
from mgtrainer.serve.vllm import Server, ServeOptions, free_port, listening_pids

REPO = Path(__file__).resolve().parents[2]


def _output_dir(tmp_path) -> Path:
    d = tmp_path / "run" / "final"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"max_position_embeddings": 512}))
    mf.write(mf.Manifest(task="classify", base_model="x", head="sequence_classification", labels=["a", "b"]), d)
    return d.parent


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


@pytest.fixture
def other_server(tmp_path):
    """A plain http.server on a free port, serving a folder with a `health` file, in its own session."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "health").write_text("the other server\n")
    port = free_port()
    log = tmp_path / "other.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                                cwd=root, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            _get(f"http://127.0.0.1:{port}/health")
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.1)
    yield port, proc, log
    proc.terminate()
    proc.wait(10)


def test_serve_on_a_busy_port_is_one_line_exit_2_and_the_other_server_is_untouched(tmp_path, other_server):
    port, proc, log = other_server
    out = _output_dir(tmp_path)
    before = log.read_text()
    res = subprocess.run([sys.executable, "-P", "-m", "mgtrainer", "serve", str(out), "--port", str(port)],
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "MGT_TORCH": "cpu"},
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith(f"127.0.0.1:{port}: port already in use by pid {proc.pid} ")
    assert "api key" not in res.stdout + res.stderr and "starting vLLM" not in res.stderr  # nothing started
    assert proc.poll() is None and _get(f"http://127.0.0.1:{port}/health") == b"the other server\n"
    assert log.read_text().startswith(before)  # its log kept, not truncated


def test_each_server_gets_its_own_log(tmp_path, monkeypatch):
    monkeypatch.setenv("MGT_TORCH", "cpu")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    out = _output_dir(tmp_path)
    port = free_port()
    old = tmp_path / f"mgtrainer-vllm-{port}.log"  # the name every server on this port used to share
    old.write_text("a running server's log\n")
    a, b = Server(out, ServeOptions(port=port)), Server(out, ServeOptions(port=port))
    assert a.log_path != b.log_path and a.log_path.parent == tmp_path
    assert f"mgtrainer-vllm-{port}-" in a.log_path.name
    assert old.read_text() == "a running server's log\n"


def test_a_health_answer_from_a_foreign_server_does_not_count(tmp_path, other_server, monkeypatch):
    monkeypatch.setenv("MGT_TORCH", "cpu")
    port, proc, _ = other_server
    assert listening_pids(port) == {proc.pid}
    with pytest.raises(MgtError, match=f"port already in use by pid {proc.pid}"):
        Server(_output_dir(tmp_path), ServeOptions(port=port))
    # the port was free at the check, then another server took it while ours started: /health answers
    # 200, but the listener is not in our child's process group, so it is not our server
    server = Server(_output_dir(tmp_path / "b"), ServeOptions(port=free_port()))
    server.opts.port = port
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        server.proc = ours
        assert server.healthy() and not server.answered_by_child()
        with pytest.raises(MgtError, match="not healthy after 2 s"):
            server.wait_healthy(2)
        server.proc = proc  # and when the listener is our child, it counts
        assert server.answered_by_child()
    finally:
        ours.kill()
        ours.wait()
