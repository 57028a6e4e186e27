"""Real LLaMA-Factory 0.9.5 runs on CPU from the built llamafactory env (heavy: env build + training)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lfrun  # noqa: E402
from mgtrainer.backends import lf_agree, lf_data  # noqa: E402
from mgtrainer.data import iter_records  # noqa: E402
from mgtrainer.data.registry import load_info, resolve  # noqa: E402

pytestmark = [pytest.mark.heavy, pytest.mark.llamafactory]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def lf_python() -> Path:
    """The llamafactory env's interpreter (built on demand by the env layer)."""
    from mgtrainer import env

    return env.python("llamafactory")


mgtrainer = lfrun.mgtrainer


def logits(model_dir, ids, adapter=None):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_lora_sft_passthrough_then_load(tmp_path_factory, tiny_qwen2, shared_data, lf_python):
    from transformers import AutoTokenizer

    from mgtrainer import manifest

    code, out = lfrun.lora_sft(tmp_path_factory.getbasetemp(), tiny_qwen2, shared_data)  # shared with tests/serve
    assert code == 0
    final = out / "final"
    man = manifest.read(out)
    assert (man.backend, man.task, man.head, man.finetuning_type, man.adapter_dir) == \
        ("llamafactory", "sft", "causal_lm", "lora", "adapter")
    assert man.base_model == str(tiny_qwen2) and "train_loss" in man.metrics
    losses = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in losses if "loss" in m] == [1, 2]
    assert (out / "checkpoint-1" / "trainer_state.json").is_file()
    tok = AutoTokenizer.from_pretrained(final)
    ids = tok.apply_chat_template([{"role": "user", "content": "What is 2 + 2?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)["input_ids"]
    merged = logits(final, ids)
    assert (merged - logits(tiny_qwen2, ids, adapter=final / "adapter")).abs().max() < 1e-4  # merge is exact
    assert (merged - logits(tiny_qwen2, ids)).abs().max() > 1e-3  # and training changed the model


def test_full_sft_from_run_config(tmp_path, tiny_qwen2, shared_data, lf_python):
    from mgtrainer import manifest
    from mgtrainer.backends import llamafactory

    out = tmp_path / "full"
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"""task: sft
backend: llamafactory
model: {{name_or_path: {tiny_qwen2}}}
data:
  train: [{shared_data / 'microsoft-foundry' / 'gsm8k_chat_train.jsonl'}]
  val_size: 4
  max_samples: 12
  cutoff_len: 96
train: {{output_dir: {out}, max_steps: 2, per_device_train_batch_size: 2, learning_rate: 1.0e-3,
        logging_steps: 1, eval_strategy: steps, eval_steps: 2, group_by_length: true}}
lora: {{finetuning_type: full}}
""")  # group_by_length reaches LF as train_sampling_strategy (its transformers 5 has no group_by_length)
    assert llamafactory.train(None, str(cfg), []) == 0
    info = json.loads((out / "lf_data" / "dataset_info.json").read_text())
    assert set(info) == {"mgt_train", "mgt_eval"}
    assert len((out / "lf_data" / "mgt_eval.jsonl").read_text().splitlines()) == 4
    man = manifest.read(out)
    assert (man.finetuning_type, man.adapter_dir, man.template) == ("full", None, "model")
    assert "eval_loss" in man.metrics
    ids = __import__("torch").tensor([[5, 17, 42, 99, 3]])
    assert (logits(out / "final", ids) - logits(tiny_qwen2, ids)).abs().max() > 1e-4


def test_lf_failure_exit_code_propagates(tmp_path, tiny_qwen2, shared_data, lf_python):
    cfg = tmp_path / "lf.yaml"
    cfg.write_text(f"model_name_or_path: {tiny_qwen2}\nstage: sft\ndataset: identity\ndataset_dir: "
                   f"{shared_data / 'llama-factory'}\noutput_dir: {tmp_path / 'o'}\nno_such_argument: 1\n")
    proc = mgtrainer("train", "--llamafactory", cfg)
    assert proc.returncode == 1 and "no_such_argument" in proc.stderr
    assert not (tmp_path / "o" / "final").exists()


def test_agreement_with_lf_converters(tmp_path, shared_data, lf_python):
    """Every file of ../shared/data/llama-factory that its dataset_info.json describes: our normalisation
    gives LF's prompt/response/system/tools per row, and our export for LF reads back the same."""
    lfdir = shared_data / "llama-factory"
    info = load_info(lfdir)
    names = [n for n, e in info.items() if "file_name" in e and (lfdir / e["file_name"]).exists()]
    assert len(names) >= 8
    both, kept = {}, {}
    for name in names:
        both[name] = {**info[name], "file_name": str((lfdir / info[name]["file_name"]).resolve())}
        path, spec = resolve(name, lfdir, name)
        records = list(iter_records(path, spec=spec, on_error=lambda s, r: None))
        kept[name] = {r.source for r in records}
        lf_data.write_jsonl((lf_data.lf_row(r) for r in records), tmp_path / f"x_{name}.jsonl")
        both[f"x_{name}"] = {"file_name": f"x_{name}.jsonl", **lf_data.ENTRIES[records[0].kind]}
    (tmp_path / "dataset_info.json").write_text(json.dumps(both))
    dump = tmp_path / "aligned.json"
    subprocess.run([str(lf_python), "-m", "mgtrainer.backends.lf_align", str(tmp_path), str(dump)],
                   check=True, timeout=900, env={**__import__("os").environ, "HF_DATASETS_CACHE": str(tmp_path / "c")})
    lf = json.loads(dump.read_text())
    results = lf_agree.compare(lfdir, {n: lf[n] for n in names})
    print(lf_agree.table(results))
    for name, r in results.items():
        assert r["differences"] == [], (name, r["differences"][:5])
        theirs = lf[name]
        assert len(lf[f"x_{name}"]) == len(kept[name]) == len(theirs)
        for i, (orig, exported) in enumerate(zip(theirs, lf[f"x_{name}"])):
            assert lf_agree.diff(exported, orig) == [], (name, i)


def test_rm_from_run_config_becomes_a_sequence_classifier(tmp_path, tiny_qwen2, shared_data, lf_python):
    """LF's value-head reward model -> AutoModelForSequenceClassification giving LF's reward minus the
    head's bias (a constant shift; rankings unchanged)."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from mgtrainer import manifest
    from mgtrainer.backends import llamafactory

    out = tmp_path / "rm"
    cfg = tmp_path / "rm.yaml"
    cfg.write_text(f"""task: rm
backend: llamafactory
model: {{name_or_path: {tiny_qwen2}}}
data: {{train: [{shared_data / 'llama-factory' / 'dpo_en_demo.json'}], max_samples: 6, cutoff_len: 64}}
train: {{output_dir: {out}, max_steps: 2, per_device_train_batch_size: 2, learning_rate: 1.0e-2, logging_steps: 1,
        group_by_length: true}}
""")  # group_by_length: noted and left out (transformers' length sampler needs input_ids; LF's pairs lack them)
    assert llamafactory.train(None, str(cfg), []) == 0
    man = manifest.read(out)
    assert (man.task, man.head, man.adapter_dir) == ("rm", "sequence_classification", "adapter")
    ids = torch.tensor([[5, 17, 42, 99, 3, 8]])
    decoder = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_qwen2), out).merge_and_unload()
    head = load_file(str(out / "value_head.safetensors"))
    with torch.no_grad():
        hidden = decoder(ids, output_hidden_states=True).hidden_states[-1][0, -1]
        reward = AutoModelForSequenceClassification.from_pretrained(out / "final")(ids).logits[0, 0]
    assert abs(float(hidden @ head["v_head.summary.weight"][0]) - float(reward)) < 1e-4


def test_deepspeed_zero3_through_the_passthrough_on_two_cpu_processes(tmp_path, tiny_qwen2, shared_data, lf_python):
    """`deepspeed: zero3` (our preset name) in an LF YAML, 2 processes on CPU (gloo): LF's torchrun launch
    runs ZeRO-3 and final/ is a whole merged model (AutoModel loads it; training changed it)."""
    out = tmp_path / "out"
    cfg = tmp_path / "lf.yaml"
    cfg.write_text(f"""model_name_or_path: {tiny_qwen2}
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 4
lora_target: all
dataset: alpaca_en_demo
dataset_dir: {shared_data / 'llama-factory'}
template: qwen
cutoff_len: 64
max_samples: 16
output_dir: {out}
logging_steps: 1
per_device_train_batch_size: 2
learning_rate: 1.0e-2
max_steps: 2
report_to: none
deepspeed: zero3
""")
    proc = mgtrainer("train", "--llamafactory", cfg, "--nproc-per-node", 2)
    assert proc.returncode == 0
    assert "FORCE_TORCHRUN=1 NPROC_PER_NODE=2 llamafactory-cli train" in proc.stderr
    assert "DeepSpeed ZeRO3 detected" in proc.stdout + proc.stderr
    losses = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in losses if "loss" in m] == [1, 2]
    import torch

    ids = torch.tensor([[1, 2, 3, 4]])
    assert (logits(out / "final", ids) - logits(tiny_qwen2, ids)).abs().max() > 1e-3
