"""The same `mgtrainer train` command under torchrun / accelerate launch: 2 CPU processes with gloo DDP."""

import json
import math
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.heavy
@pytest.mark.parametrize("launcher", ["torchrun", "accelerate"])
def test_two_process_gloo_training(launcher, tiny_qwen2, shared_data, tmp_path):
    out = tmp_path / "out"
    cfg = tmp_path / "run.yaml"
    cfg.write_text(json.dumps({
        "task": "sft", "model": {"name_or_path": str(tiny_qwen2)},
        "data": {"train": [str(shared_data / "llama-factory" / "alpaca_en_demo.json")], "max_samples": 32,
                 "cutoff_len": 64},
        "train": {"output_dir": str(out), "max_steps": 3, "per_device_train_batch_size": 2, "logging_steps": 1,
                  "preview_samples": 0, "save_steps": 100},
        "lora": {"finetuning_type": "lora", "rank": 4},
    }))
    bindir = Path(sys.executable).parent
    launch = ([str(bindir / "torchrun"), "--nproc_per_node", "2"] if launcher == "torchrun" else
              [str(bindir / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no"])  # multi_gpu = its torchrun launcher
    assert shutil.which(launch[0])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([*launch, "-m", "mgtrainer", "train", str(cfg)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]  # one writer (rank 0)
    n_rows = int(re.search(r"train: (\d+) rows", proc.stdout).group(1))
    assert steps[0]["epoch"] == pytest.approx(1 / math.ceil(n_rows / 4))  # global batch: 2 processes x 2
    assert (out / "final" / "mgtrainer.json").is_file()
