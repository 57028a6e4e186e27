"""Several LoRA adapters on one vLLM server: `mgtrainer serve BASE --adapter NAME=OUT ...`.

Two LoRA sft runs on the same tiny Qwen2, taught different fixed answers (one keeps its adapter unmerged, the
other merges and keeps final/adapter). The vLLM arguments, the refusals (a bad NAME=OUT, a repeated name, an
adapter of another base, another chat template) in one line each; then (heavy) one server with both adapters:
each answers its own way through the openai client, the base without either, and `serve --check --url` proves
parity per adapter against its run's transformers model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = ["What do you see?", "Tell me something.", "Any news?", "What now?", "Say a word.", "Why?",
             "Where are we?", "Who is there?", "How are you?", "What is this?", "Go on.", "And then?"]


def _run(tiny_qwen2: Path, root: Path, name: str, answer: str, merge: bool) -> Path:
    from mgtrainer.app.runs import train

    data = root / f"{name}.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": q},
                                                     {"role": "assistant", "content": answer}]}) + "\n"
                            for q in QUESTIONS))
    out = root / name
    train({"task": "sft", "model": {"name_or_path": str(tiny_qwen2)},
           "data": {"train": [str(data)], "cutoff_len": 64},
           "train": {"output_dir": str(out), "max_steps": 30, "per_device_train_batch_size": 4, "logging_steps": 10,
                     "save_strategy": "no", "learning_rate": 2e-2, "preview_samples": 0, "report_to": "none"},
           "lora": {"finetuning_type": "lora", "rank": 8 if merge else 4, "merge": merge},
           "eval": {"generation_samples": 0}})
    return out


@pytest.fixture(scope="module")
def runs(tiny_qwen2, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {"colors": _run(tiny_qwen2, root, "colors", "blue green blue green", merge=False),
            "digits": _run(tiny_qwen2, root, "digits", "7 7 7 7 7 7", merge=True)}


def cli(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgtrainer", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_vllm_args_load_the_base_once_and_name_each_adapter(runs, tiny_qwen2):
    from mgtrainer.serve.vllm import ServeOptions, vllm_args

    opts = ServeOptions(port=8123, adapters=[("colors", str(runs["colors"])), ("digits", str(runs["digits"]))])
    args = vllm_args(tiny_qwen2, opts)
    assert args[0] == str(tiny_qwen2)
    assert args[args.index("--served-model-name") + 1] == tiny_qwen2.name  # the bare base answers to its own name
    modules = args[args.index("--lora-modules") + 1: args.index("--lora-modules") + 3]
    assert modules == [f"colors={(runs['colors'] / 'final').resolve()}",  # merge: false -> final/ is the adapter
                       f"digits={(runs['digits'] / 'final' / 'adapter').resolve()}"]  # merged -> final/adapter
    assert "--enable-lora" in args and args[args.index("--max-loras") + 1] == "2"
    assert args[args.index("--max-lora-rank") + 1] == "8"  # the largest rank (8 and 4) rounded up to vLLM's
    assert "--tokenizer" not in args  # one tokenizer for all: the base's


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    return err[0]


def test_refusals_are_one_line_before_anything_starts(runs, tiny_qwen2, tmp_path):
    assert "expected NAME=OUT" in _one_line_error(cli("serve", tiny_qwen2, "--adapter", runs["colors"]))
    same = cli("serve", tiny_qwen2, "--adapter", f"a={runs['colors']}", "--adapter", f"a={runs['digits']}")
    assert "a name repeats" in _one_line_error(same)
    # an adapter of another base: its recorded fingerprint differs in config.json
    other = tmp_path / "other"
    shutil.copytree(runs["digits"], other)
    record = other / "final" / "adapter" / "mgtrainer-base.json"
    said = json.loads(record.read_text())
    said["fingerprint"]["config.json"] = "0" * 64
    record.write_text(json.dumps(said))
    line = _one_line_error(cli("serve", tiny_qwen2, "--adapter", f"x={other}"))
    assert "differs from the base" in line and "in config.json (--adapter)" in line
    # trained with another chat template than the base's: the server's one tokenizer would render it wrongly
    styled = tmp_path / "styled"
    shutil.copytree(runs["colors"], styled)
    (styled / "final" / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    line = _one_line_error(cli("serve", tiny_qwen2, "--adapter", f"s={styled}"))
    assert "another chat template" in line and "--adapter s" in line
    clash = cli("serve", tiny_qwen2, "--adapter", f"{tiny_qwen2.name}={runs['colors']}")
    assert "other than the base's" in _one_line_error(clash)


@pytest.mark.heavy
@pytest.mark.serve
def test_one_server_two_adapters_each_answers_its_own_way(runs, tiny_qwen2):
    from openai import OpenAI

    from mgtrainer import env
    from mgtrainer.serve.vllm import ServeOptions, Server

    env.python("serve")  # built on demand (shared with the other serve tests)
    opts = ServeOptions(port=0, api_key="k", adapters=[("colors", str(runs["colors"])),
                                                       ("digits", str(runs["digits"]))])
    with Server(tiny_qwen2, opts).start(timeout=900) as server:
        client = OpenAI(base_url=server.url + "/v1", api_key="k")
        assert {m.id for m in client.models.list().data} == {tiny_qwen2.name, "colors", "digits"}
        answers = {name: client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "Where do we go?"}],  # a question neither saw
            max_tokens=12, temperature=0).choices[0].message.content for name in ("colors", "digits", tiny_qwen2.name)}
        assert "green" in answers["colors"] and "7" not in answers["colors"], answers  # a tiny model: most of it
        assert "7 7 7" in answers["digits"] and "green" not in answers["digits"], answers
        assert "green" not in answers[tiny_qwen2.name] and "7 7" not in answers[tiny_qwen2.name], answers
        # parity per adapter through the verb, against the running server (no second server)
        check = cli("serve", tiny_qwen2, "--adapter", f"colors={runs['colors']}", "--adapter",
                    f"digits={runs['digits']}", "--check", "--url", server.url, "--api-key", "k", timeout=900)
        assert check.returncode == 0, check.stdout + check.stderr
        lines = [ln for ln in check.stdout.splitlines() if ln.startswith("parity sft")]
        assert len(lines) == 2 and all("PASS" in ln for ln in lines), check.stdout
        assert "(adapter colors)" in lines[0] and "(adapter digits)" in lines[1]
