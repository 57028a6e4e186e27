"""One real LLaMA-Factory LoRA sft run per pytest session, shared by tests/backends and tests/serve.

The output lives in the session's base temp folder, so the second caller (the vLLM serving test of an
LF-trained model) reuses the first caller's run instead of training again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def mgtrainer(*args, timeout=900) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", *map(str, args)], cwd=REPO, timeout=timeout,
                          capture_output=True, text=True)
    print(proc.stdout[-3000:], proc.stderr[-6000:])
    return proc


def lora_sft(base_tmp: Path, tiny_qwen2: Path, shared_data: Path) -> tuple[int, Path]:
    """(exit code, output folder) of `mgtrainer train --llamafactory lf.yaml`: LoRA sft on the tiny Qwen2,
    LF-format alpaca plus a converted messages file, 2 steps. Run once per session (cached by folder)."""
    root = base_tmp / "lf_lora_sft"
    out, done = root / "out", root / "exit_code.json"
    if done.is_file():
        return json.loads(done.read_text()), out
    root.mkdir(parents=True, exist_ok=True)
    msgs = shared_data / "microsoft-foundry" / "stock_toolcall_validation.jsonl"  # not LF format: converted
    cfg = root / "lf.yaml"
    cfg.write_text(f"""model_name_or_path: {tiny_qwen2}
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 4
lora_target: all
dataset: alpaca_en_demo,{msgs}
dataset_dir: {shared_data / 'llama-factory'}
template: qwen
cutoff_len: 128
max_samples: 8
output_dir: {out}
logging_steps: 1
save_steps: 1
per_device_train_batch_size: 2
learning_rate: 1.0e-2
max_steps: 2
report_to: none
""")
    code = mgtrainer("train", "--llamafactory", cfg).returncode
    done.write_text(json.dumps(code))
    return code, out
