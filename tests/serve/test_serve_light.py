"""Serving layer without a server: vLLM argv per task, CLI parsing, rows in/out, predict with transformers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mgtrainer import manifest as mf
from mgtrainer.cli import build_parser
from mgtrainer.errors import MgtError
from mgtrainer.serve import rows as R
from mgtrainer.serve.vllm import ServeOptions, vllm_args, vllm_env
from mgtrainer.tasks import rerank, sft

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def write_manifest(tmp_path, task, positions=32768, **fields):
    d = tmp_path / task / "final"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"max_position_embeddings": positions}))
    head = {"sft": "causal_lm", "pt": "causal_lm", "embed": "encoder"}.get(task, "sequence_classification")
    mf.write(mf.Manifest(task=task, base_model="x", head=head, **fields), d)
    return tmp_path / task


def flag(args, name):
    return args[args.index(name) + 1] if name in args else None


@pytest.mark.parametrize("task,runner,convert", [
    ("sft", "generate", None), ("pt", "generate", None), ("classify", "pooling", "classify"),
    ("rm", "pooling", "classify"), ("embed", "pooling", "embed"), ("rerank", "pooling", "classify"),
])
def test_runner_and_convert_follow_the_task_registry(tmp_path, monkeypatch, task, runner, convert):
    monkeypatch.setenv("MGT_TORCH", "cpu")
    args = vllm_args(write_manifest(tmp_path, task), ServeOptions(api_key="k"))
    assert args[0].endswith("final")
    assert flag(args, "--runner") == runner and flag(args, "--convert") == convert
    assert flag(args, "--served-model-name") == task  # the output folder's name
    assert flag(args, "--host") == "127.0.0.1" and "k" not in args  # the key goes by environment
    assert flag(args, "--middleware") == "mgtrainer.serve.auth.GuardAll"  # guards /classify, /rerank, ...
    assert flag(args, "--dtype") == "float32" and flag(args, "--max-model-len") == "4096"  # capped on CPU
    assert "--enforce-eager" in args


def test_pooler_settings_carry_the_trained_head(tmp_path, monkeypatch):
    monkeypatch.setenv("MGT_TORCH", "cpu")
    emb = vllm_args(write_manifest(tmp_path, "embed", 512, pooling="cls", normalize=False), ServeOptions())
    assert "--max-model-len" not in emb  # short models: vLLM derives it (sentence-transformers may lower it)
    assert json.loads(flag(emb, "--pooler-config")) == {"pooling_type": "CLS", "use_activation": False}
    for task in ("rm", "rerank"):  # the reward / relevance is the raw logit
        args = vllm_args(write_manifest(tmp_path, task), ServeOptions())
        assert json.loads(flag(args, "--pooler-config")) == {"use_activation": False}
    multi = vllm_args(write_manifest(tmp_path, "classify", labels=["a", "b"], multi_label=True), ServeOptions())
    assert json.loads(flag(multi, "--hf-overrides")) == {"problem_type": "multi_label_classification"}
    assert "--middleware" not in multi  # no key, no guard


def test_gpu_machines_keep_vllm_defaults_and_extra_args_go_last(tmp_path, monkeypatch):
    monkeypatch.setenv("MGT_TORCH", "cuda")
    args = vllm_args(write_manifest(tmp_path, "sft"), ServeOptions(extra_args=["--max-num-seqs", "4"]))
    assert "--dtype" not in args and "--enforce-eager" not in args and "--max-model-len" not in args
    assert args[-2:] == ["--max-num-seqs", "4"]


def test_cpu_env_defaults_never_override_the_user(monkeypatch):
    monkeypatch.setenv("MGT_TORCH", "cpu")
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    env = vllm_env(ServeOptions(kv_cache_space_gib=3, api_key="k"))
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "3" and env["VLLM_TARGET_DEVICE"] == "cpu"
    assert env["VLLM_API_KEY"] == "k"
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "5")
    assert vllm_env(ServeOptions())["VLLM_CPU_KVCACHE_SPACE"] == "5"


def test_everything_after_double_dash_goes_to_vllm_unchanged():
    args = build_parser().parse_args(["serve", "out", "--port", "0", "--", "--max-num-seqs", "4", "--", "x"])
    assert (args.output_dir, args.port, args.vllm_args) == ("out", 0, ["--max-num-seqs", "4", "--", "x"])
    assert build_parser().parse_args(["serve", "out"]).vllm_args == []


def run_cli(*argv, **kw):
    return subprocess.run([sys.executable, "-m", "mgtrainer", *argv], capture_output=True, text=True, cwd=REPO, **kw)


def test_serve_without_manifest_is_one_line_error(tmp_path):
    proc = run_cli("serve", str(tmp_path))
    assert proc.returncode == 2
    assert "mgtrainer.json" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_rows_round_trip_csv_and_jsonl(tmp_path):
    rows = [{"text": "a, \"quoted\"", "n": 1}, {"text": "b", "vec": [0.5, 1.0]}]
    R.write_rows(tmp_path / "o.jsonl", rows)
    assert [dict(r) for r in R.read_rows(tmp_path / "o.jsonl")] == rows
    R.write_rows(tmp_path / "o.csv", rows)
    back = R.read_rows(tmp_path / "o.csv")
    assert back[0]["text"] == 'a, "quoted"' and json.loads(back[1]["vec"]) == [0.5, 1.0]
    assert back[1].where.endswith("o.csv:3")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_bad_rows_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(MgtError, match=r"bad\.jsonl:2: not JSON"):
        R.read_rows(bad)
    bad.write_text('{"query": "q"}\n')
    with pytest.raises(MgtError, match=r"bad\.jsonl:1: no passage"):
        rerank.rerank_pair(R.read_rows(bad)[0])
    bad.write_text('{"messages": "[{\\"role\\": \\"user\\"}]"}\n{"messages": 5}\n')
    assert sft.chat_prompt(R.read_rows(bad)[0]) == [{"role": "user", "content": ""}]
    with pytest.raises(MgtError, match=r"bad\.jsonl:2: messages is not a list"):
        sft.chat_prompt(R.read_rows(bad)[1])


def test_chat_prompt_drops_the_reference_answer():
    row = R.Row(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    assert sft.chat_prompt(row) == [{"role": "user", "content": "hi"}]
    alpaca = R.Row(instruction="Translate", input="cat", system="Be brief")
    assert sft.chat_prompt(alpaca) == [{"role": "system", "content": "Be brief"},
                                     {"role": "user", "content": "Translate\ncat"}]


def test_predict_hf_classify_writes_rows_plus_predictions(tmp_path, final_dir):
    model = final_dir("classify")
    src = tmp_path / "in.csv"
    src.write_text("text,label\nplay some jazz,PlayMusic\nwill it rain,GetWeather\n")
    before = src.read_bytes()
    proc = run_cli("predict", str(model), "--input", str(src), "--output", str(tmp_path / "out.csv"), "--engine", "hf")
    assert proc.returncode == 0, proc.stderr
    out = R.read_rows(tmp_path / "out.csv")
    labels = mf.read(model).labels
    assert [r["text"] for r in out] == ["play some jazz", "will it rain"] and out[0]["label"] == "PlayMusic"
    for r in out:
        probs = json.loads(r["probabilities"])
        assert list(probs) == labels and abs(sum(probs.values()) - 1) < 1e-3
        assert r["prediction"] == max(probs, key=probs.get)
    assert src.read_bytes() == before


def test_predict_refuses_to_overwrite_its_input(tmp_path, final_dir):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "x"}\n')
    proc = run_cli("predict", str(final_dir("classify")), "--input", str(src), "--output", str(src), "--engine", "hf")
    assert proc.returncode == 2 and "never overwritten" in proc.stderr and "Traceback" not in proc.stderr


def test_predict_hf_generation_is_greedy_and_deterministic(tmp_path, final_dir):
    from mgtrainer.serve.predict import predict

    src = tmp_path / "in.jsonl"
    src.write_text('{"prompt": "What is the capital of France?"}\n'
                   '{"messages": [{"role": "user", "content": "Give three tips"}, {"role": "assistant", "content": "x"}]}\n')
    stats = predict(final_dir("sft"), src, tmp_path / "a.jsonl", engine="hf", max_new_tokens=8, progress=False)
    predict(final_dir("sft"), src, tmp_path / "b.jsonl", engine="hf", max_new_tokens=8, batch_size=1, progress=False)
    a, b = R.read_rows(tmp_path / "a.jsonl"), R.read_rows(tmp_path / "b.jsonl")
    assert [r["prediction"] for r in a] == [r["prediction"] for r in b]  # batched (left-padded) == one by one
    assert 0 < stats["generated_tokens"] <= 16 and all(isinstance(r["prediction"], str) for r in a)
