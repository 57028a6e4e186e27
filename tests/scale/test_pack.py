"""`mgtrainer data pack` then `data.packed: DIR`: the same rows, batches and losses as training from the raw
files; under a 2-process launch each rank opens only its own shards; a cache packed for another cutoff_len
(or tokenizer, data, template) is refused naming the difference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def mgt(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", *map(str, args)], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def losses(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


@pytest.mark.heavy
def test_pack_trains_like_raw_files_and_refuses_a_stale_cache(tiny_qwen2, shared_data, tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(json.dumps({
        "task": "sft", "model": {"name_or_path": str(tiny_qwen2)},
        "data": {"train": [str(shared_data / "llama-factory" / "alpaca_en_demo.json")], "max_samples": 40,
                 "cutoff_len": 64},
        "train": {"max_steps": 4, "per_device_train_batch_size": 4, "logging_steps": 1, "preview_samples": 0,
                  "learning_rate": 1e-3, "group_by_length": False},
        "lora": {"finetuning_type": "lora", "rank": 4, "dropout": 0.0}}))
    cache = tmp_path / "cache"
    mgt("data", "pack", cfg, "-o", cache, "--num-proc", 2, "--shard-rows", 16)
    meta = json.loads((cache / "mgtrainer-pack.json").read_text())
    assert meta["shards"]["train"] == [f"train/shard-0000{i}.arrow" for i in range(3)]  # 40 records, 16 per shard
    assert meta["rows"]["train"] == sum(meta["shard_rows"].values()) > 30
    assert meta["fingerprint"]["cutoff_len"] == 64 and meta["fingerprint"]["tokenizer_files"]

    raw = mgt("train", cfg, f"train.output_dir={tmp_path / 'raw'}")
    fast = mgt("train", cfg, f"train.output_dir={tmp_path / 'packed'}", f"tokenized_path={cache}")
    assert "from the packed cache" in fast.stdout
    assert f"train: {meta['rows']['train']} rows" in raw.stdout + fast.stdout
    a, b = losses(tmp_path / "raw"), losses(tmp_path / "packed")
    assert len(a) == 4 and a == b  # identical batches -> identical losses

    # 2 processes (gloo): rank 0 opens shards 0 and 2, rank 1 shard 1; both take the smaller count of rows
    two = mgt("train", cfg, f"train.output_dir={tmp_path / 'two'}", f"data.packed={cache}", "--nproc-per-node", 2)
    rows = meta["shard_rows"]
    cap = min(rows["train/shard-00000.arrow"] + rows["train/shard-00002.arrow"], rows["train/shard-00001.arrow"])
    opened = sorted(line for line in two.stderr.splitlines() if "train rows from" in line)
    assert opened == [f"rank 0 of 2: train rows from 2 of 3 shards (shard-00000.arrow, shard-00002.arrow), {cap} rows "
                      "(the smallest rank's count)",
                      f"rank 1 of 2: train rows from 1 of 3 shards (shard-00001.arrow), {cap} rows "
                      "(the smallest rank's count)"], two.stderr[-3000:]
    assert len(losses(tmp_path / "two")) == 4

    stale = mgt("train", cfg, f"train.output_dir={tmp_path / 'stale'}", f"data.packed={cache}",
                "data.cutoff_len=48", check=False)
    assert stale.returncode == 2
    assert "the packed cache is stale: it differs from this config in cutoff_len" in stale.stderr
