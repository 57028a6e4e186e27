"""`mgtrainer export RUN --to merged|adapter|gguf`: from a LoRA run with lora.merge: false (the adapter alone in
final/), on the tiny qwen2 and the tiny llama (whose q/k weights GGUF permutes): the merged folder equals the
merge transformers + peft make; the adapter folder loads on its base; each GGUF type, read back by transformers'
GGUF loader, gives the same tokens and greedy answers, f32 exactly and f16 / q8_0 within a stated tolerance.
The real SmolLM2's round trip (20 held-out prompts) is bench/gguf_roundtrip.py (references/serving.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATES = REPO / "script/examples/real/data"
TOL = {"f32": 1e-5, "f16": 0.05, "q8_0": 0.5}  # max |logit difference|; f32 is the same numbers


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgtrainer", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module", params=["tiny_qwen2", "tiny_llama"])
def run(request, tmp_path_factory) -> tuple[Path, Path]:
    from mgtrainer.app.runs import train

    base = request.getfixturevalue(request.param)
    out = tmp_path_factory.mktemp("export") / request.param
    train({"task": "sft", "model": {"name_or_path": str(base)},
           "data": {"train": [str(DATES / "dates_sft.jsonl")], "max_samples": 32, "cutoff_len": 96},
           "train": {"output_dir": str(out), "max_steps": 2, "per_device_train_batch_size": 8, "save_steps": 1,
                     "learning_rate": 1e-2, "preview_samples": 0, "report_to": "none", "logging_steps": 1},
           "lora": {"finetuning_type": "lora", "rank": 4, "merge": False}})
    return base, out


def _greedy(model, ids):
    import torch

    with torch.no_grad():
        return model(ids).logits, model.generate(ids, max_new_tokens=8, do_sample=False)


def test_merged_adapter_and_every_gguf_type_load_back_alike(run, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, out = run
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                                          str(out / "final")).merge_and_unload()
    tok = AutoTokenizer.from_pretrained(out / "final")
    ids = tok.apply_chat_template([{"role": "user", "content": "Write the date 1998-07-02 in words."}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    ref_logits, ref_gen = _greedy(reference, ids)

    from mgtrainer.app.export import export

    export(out, "merged", tmp_path / "merged")  # in-process; the command line itself: f16 below
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged", dtype=torch.float32)
    assert torch.allclose(_greedy(merged, ids)[0], ref_logits, atol=1e-5)
    assert json.loads((tmp_path / "merged" / "mgtrainer.json").read_text())["adapter_dir"] is None

    export(out, "adapter", tmp_path / "adapter")
    assert {"adapter_config.json", "adapter_model.safetensors", "mgtrainer-base.json"} <= \
        {f.name for f in (tmp_path / "adapter").iterdir()}

    for outtype in ("f32", "f16", "q8_0"):
        gguf = tmp_path / f"model-{outtype}.gguf"
        if outtype == "f16":
            proc = _cli("export", out, "--to", "gguf", "--outtype", outtype, "-o", gguf)
            assert proc.returncode == 0 and proc.stdout.strip().endswith(str(gguf)), proc.stderr[-3000:]
        else:
            export(out, "gguf", gguf, outtype)
        back_tok = AutoTokenizer.from_pretrained(tmp_path, gguf_file=gguf.name)
        assert back_tok(tok.decode(ids[0]), add_special_tokens=False)["input_ids"] == ids[0].tolist()
        back = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=gguf.name, dtype=torch.float32)
        logits, gen = _greedy(back, ids)
        assert (logits - ref_logits).abs().max().item() <= TOL[outtype], outtype
        if outtype != "q8_0":
            assert torch.equal(gen, ref_gen), outtype
    again = _cli("export", out, "--to", "gguf", "-o", tmp_path / "model-f32.gguf")
    assert again.returncode == 2 and again.stderr.strip().endswith("(or --force to replace it)")


def test_merged_from_a_checkpoint_is_that_steps_model(run, tmp_path):
    """`export RUN/checkpoint-1 --to merged`: the adapter of step 1 merged into its base (the one its
    adapter_config.json names), not final/'s (step 2); loadable by transformers as a plain model."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from mgtrainer.app.export import export

    base, out = run
    step1 = out / "checkpoint-1"
    assert (step1 / "adapter_config.json").is_file(), sorted(p.name for p in out.iterdir())
    dest = export(step1, "merged", tmp_path / "step1")
    got = AutoModelForCausalLM.from_pretrained(dest, dtype=torch.float32)
    want = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                                     str(step1)).merge_and_unload()
    final = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                                      str(out / "final")).merge_and_unload()
    ids = torch.arange(5, 21).unsqueeze(0)
    with torch.no_grad():
        assert torch.allclose(got(ids).logits, want(ids).logits, atol=1e-5)
        assert not torch.allclose(got(ids).logits, final(ids).logits, atol=1e-4)  # step 1's, not the last step's
