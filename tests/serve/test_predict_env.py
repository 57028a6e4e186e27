"""`predict --engine hf` from the light core re-runs itself in the train env (torch + transformers +
peft), not in the serve env: no vLLM stack is built for a transformers forward (issue 11)."""

from __future__ import annotations


def test_predict_hf_from_the_light_core_runs_in_the_train_env(tmp_path, final_dir, mgt_light):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "play some jazz"}\n')
    proc = mgt_light("predict", final_dir("classify"), "--input", src, "--output", tmp_path / "out.jsonl",
                     "--engine", "hf", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "running in the train env" in proc.stderr and "serve env" not in proc.stderr
    assert "prediction" in (tmp_path / "out.jsonl").read_text()
