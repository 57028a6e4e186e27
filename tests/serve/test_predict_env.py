"""`predict --engine hf` from the light core re-runs itself in the train env (torch + transformers +
peft), not in the serve env: no vLLM stack is built for a transformers forward (issue 11)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_predict_hf_from_the_light_core_runs_in_the_train_env(tmp_path, final_dir):
    light = subprocess.run(["bash", "-c", f'source "{REPO}/script/env/_bootstrap.sh" >&2 && echo "$MGT_BOOTSTRAP_PY"'],
                           capture_output=True, text=True, check=True, timeout=900).stdout.strip()
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "play some jazz"}\n')
    env = {k: v for k, v in os.environ.items() if k not in ("MGT_ENV", "VIRTUAL_ENV")}
    proc = subprocess.run([light, "-P", "-m", "mgtrainer", "predict", str(final_dir("classify")), "--input", str(src),
                           "--output", str(tmp_path / "out.jsonl"), "--engine", "hf"],
                          cwd=tmp_path, env={**env, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "running in the train env" in proc.stderr and "serve env" not in proc.stderr
    assert "prediction" in (tmp_path / "out.jsonl").read_text()
