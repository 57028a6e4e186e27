"""`lora.merge: false`: final/ holds only the adapter, and everything downstream still works on it.

A real LoRA sft (tiny Qwen2) and a real LoRA classify (MiniLM) run, 2 steps each, with merge false.
Checked: final/'s layout and manifest, loading with transformers (and peft), `mgtrainer eval`,
`mgtrainer predict --engine hf`, and `mgtrainer serve`: vLLM serves the sft adapter on its base model
(--enable-lora, heavy), and refuses the classify adapter with one clear line (vLLM has no LoRA for pooling).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INTENTS = REPO / "script/examples/classify/data"


def _train(cfg: dict) -> Path:
    from mgtrainer.app.runs import train

    train(cfg)
    return Path(cfg["train"]["output_dir"])


def _train_section(out: Path, **extra) -> dict:
    return {"output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 8, "logging_steps": 1,
            "save_steps": 100, "learning_rate": 1e-2, "preview_samples": 0, "report_to": "none", **extra}


@pytest.fixture(scope="module")
def sft_cfg(tiny_qwen2, shared_data, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("unmerged") / "sft"
    return {"task": "sft", "model": {"name_or_path": str(tiny_qwen2)},
            "data": {"train": [str(shared_data / "llama-factory/alpaca_en_demo.json")], "max_samples": 24,
                     "val_size": 4, "cutoff_len": 128},
            "train": _train_section(out), "lora": {"finetuning_type": "lora", "rank": 4, "merge": False},
            "eval": {"generation_samples": 0}}


@pytest.fixture(scope="module")
def sft_out(sft_cfg) -> Path:
    return _train(sft_cfg)


@pytest.fixture(scope="module")
def cls_cfg(minilm, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("unmerged") / "cls"
    return {"task": "classify", "model": {"name_or_path": str(minilm)},
            "data": {"train": [str(INTENTS / "intents_train.jsonl")], "eval": [str(INTENTS / "intents_eval.jsonl")],
                     "max_samples": 32, "cutoff_len": 64},
            "train": _train_section(out, learning_rate=1e-3),
            "lora": {"finetuning_type": "lora", "rank": 4, "merge": False}}


@pytest.fixture(scope="module")
def cls_out(cls_cfg) -> Path:
    return _train(cls_cfg)


def cli(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgtrainer", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("which", ["sft_out", "cls_out"])
def test_final_holds_only_the_adapter(which, request):
    from mgtrainer import manifest

    final = request.getfixturevalue(which) / "final"
    names = {p.name for p in final.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "mgtrainer.json", "tokenizer.json"} <= names
    assert not names & {"config.json", "model.safetensors", "adapter"}  # no base weights, no second copy
    man = manifest.read(final)
    assert (man.finetuning_type, man.adapter_dir) == ("lora", ".")
    base = json.loads((final / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert Path(base).is_dir() and (Path(base) / "config.json").is_file()


def test_sft_adapter_loads_with_transformers_and_peft(sft_out, tiny_qwen2):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[5, 17, 42, 99, 3, 8]])
    with torch.no_grad():
        direct = AutoModelForCausalLM.from_pretrained(sft_out / "final")(ids).logits  # transformers' peft route
        base_model = AutoModelForCausalLM.from_pretrained(tiny_qwen2)
        peft = PeftModel.from_pretrained(base_model, sft_out / "final")(ids).logits
        base = AutoModelForCausalLM.from_pretrained(tiny_qwen2)(ids).logits  # a fresh copy: peft wrapped the first
    assert (direct - peft).abs().max() < 1e-5
    assert (direct - base).abs().max() > 1e-3  # the adapter is trained, not empty


def test_classify_adapter_loads_with_the_manifest_labels(cls_out, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from mgtrainer import manifest
    from mgtrainer.serve.predict import predict

    final = cls_out / "final"
    labels = manifest.read(final).labels
    assert len(labels) == 6
    model = AutoModelForSequenceClassification.from_pretrained(final, num_labels=len(labels),
                                                               id2label=dict(enumerate(labels))).eval()
    tok = AutoTokenizer.from_pretrained(final)
    texts = ["play some jazz in the kitchen", "will it rain in Boston tomorrow"]
    with torch.no_grad():
        probs = model(**tok(texts, padding=True, return_tensors="pt")).logits.softmax(-1)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    predict(cls_out, src, tmp_path / "out.jsonl", engine="hf", progress=False)  # the engine serve --check uses
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    for row, p in zip(rows, probs.tolist()):
        assert max(abs(row["probabilities"][lab] - x) for lab, x in zip(labels, p)) < 1e-5


def test_predict_hf_cli_on_the_sft_adapter(sft_out, tmp_path):
    src = tmp_path / "prompts.jsonl"
    src.write_text(json.dumps({"id": 1, "prompt": "What is the capital of France?"}) + "\n")
    from mgtrainer.cli import main  # the CLI in this process (torch is already imported here)

    assert main(["predict", str(sft_out), "--input", str(src), "--output", str(tmp_path / "out.jsonl"),
                 "--engine", "hf", "--max-new-tokens", "8"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows[0]["id"] == 1 and isinstance(rows[0]["prediction"], str)


def test_eval_sft_adapter_reproduces_the_training_eval_loss(sft_out, sft_cfg):
    from mgtrainer import manifest
    from mgtrainer.app.runs import evaluate

    metrics = evaluate(sft_cfg)
    assert abs(metrics["eval_loss"] - manifest.read(sft_out).metrics["eval_loss"]) < 1e-4


def test_eval_classify_adapter_reproduces_the_training_accuracy(cls_out, cls_cfg):
    from mgtrainer import manifest
    from mgtrainer.app.runs import evaluate

    metrics = evaluate(cls_cfg)
    assert abs(metrics["eval_accuracy"] - manifest.read(cls_out).metrics["eval_accuracy"]) < 1e-6


def test_vllm_args_for_the_sft_adapter(sft_out, tiny_qwen2):
    from mgtrainer.serve.vllm import ServeOptions, vllm_args

    args = vllm_args(sft_out, ServeOptions(port=8123))
    final = str((sft_out / "final").resolve())
    assert args[0] == str(tiny_qwen2)  # vLLM loads the base weights ...
    assert args[args.index("--lora-modules") + 1] == f"sft={final}"  # ... and the adapter answers to 'sft'
    assert args[args.index("--served-model-name") + 1] == "sft-base"
    assert "--enable-lora" in args and args[args.index("--max-lora-rank") + 1] == "8"  # rank 4 -> vLLM's 8
    assert args[args.index("--tokenizer") + 1] == final  # the trained tokenizer and chat template


@pytest.mark.parametrize("verb", [["serve"], ["serve", "--check"],
                                  ["predict", "--input", "x.jsonl", "--output", "y.jsonl"]])
def test_vllm_refuses_a_pooling_adapter_in_one_line(cls_out, verb):
    args = [verb[0], cls_out, *verb[1:]]
    proc = cli(*args, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "lora.merge: true" in err[0] and "adapter_config.json" in err[0]


@pytest.mark.heavy
@pytest.mark.serve
def test_vllm_serves_the_sft_adapter_on_its_base(sft_out):
    """vLLM: base model + --enable-lora; the adapter answers to the model's name with the same greedy
    tokens as transformers (base + merged adapter); NAME-base answers without the adapter."""
    from openai import OpenAI

    from mgtrainer import env
    from mgtrainer.serve.check import check
    from mgtrainer.serve.vllm import ServeOptions, Server

    env.python("serve")  # built on demand (shared with tests/serve)
    with Server(sft_out, ServeOptions(port=0, api_key="k")).start(timeout=900) as server:
        client = OpenAI(base_url=server.url + "/v1", api_key="k")
        assert {m.id for m in client.models.list().data} == {"sft", "sft-base"}
        answer = client.chat.completions.create(model="sft", messages=[{"role": "user", "content": "Hi"}],
                                                max_tokens=8, temperature=0)
        assert answer.choices[0].message.content is not None
        first = {name: client.completions.create(model=name, prompt="The capital of France is", max_tokens=1,
                                                 temperature=0, logprobs=5).choices[0].logprobs.top_logprobs[0]
                 for name in ("sft", "sft-base")}
        shared = set(first["sft"]) & set(first["sft-base"])
        moved = max((abs(first["sft"][t] - first["sft-base"][t]) for t in shared), default=1.0)
        assert moved > 1e-3, first  # the adapter is applied, not just loaded
        result = check(sft_out, server.url, server.name, "k")
        assert result.ok, result
