"""`mgtrainer train --nnodes 2 --node-rank R --rdzv-endpoint 127.0.0.1:PORT`: two launcher processes on
localhost meet through torchrun's c10d rendezvous (gloo on CPU). Same global batch -> same loss as one
process; a killed rank stops the job with the rank named; the run resumes from its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_cfg(path: Path, model, data, out, batch: int, **train) -> Path:
    path.write_text(json.dumps({
        "task": "sft", "model": {"name_or_path": str(model)},
        "data": {"train": [str(data / "llama-factory" / "alpaca_en_demo.json")], "max_samples": 48,
                 "cutoff_len": 64},
        "train": {"output_dir": str(out), "max_steps": 3, "per_device_train_batch_size": batch,
                  "logging_steps": 1, "preview_samples": 1, "save_steps": 100, "learning_rate": 1e-3,
                  "optim": "adamw_torch", **train},
        "lora": {"finetuning_type": "lora", "rank": 4, "dropout": 0.0},
    }))
    return path


def mgt(*args) -> list[str]:
    return [sys.executable, "-m", "mgtrainer", *map(str, args)]


def losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def two_nodes(cfg: Path, port: int, *extra) -> list[subprocess.Popen]:
    return [subprocess.Popen(mgt("train", cfg, *extra, "--nnodes", 2, "--node-rank", rank, "--rdzv-endpoint",
                                 f"127.0.0.1:{port}"), cwd=REPO, env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for rank in (0, 1)]


@pytest.mark.heavy
def test_two_nodes_match_one_process_and_a_killed_rank_is_named(tiny_qwen2, shared_data, tmp_path):
    one = tmp_path / "one"
    proc = subprocess.run(mgt("train", write_cfg(tmp_path / "one.yaml", tiny_qwen2, shared_data, one, 4)),
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    two = tmp_path / "two"
    cfg = write_cfg(tmp_path / "two.yaml", tiny_qwen2, shared_data, two, 2)
    procs = two_nodes(cfg, free_port())
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr[-3000:]
    printed = [stdout.count("train sample 0") for stdout, _ in outs]
    assert sorted(printed) == [0, 1]  # only global rank 0 previews
    a, b = losses(one), losses(two)
    assert list(b) == [1, 2, 3]  # one writer
    for step in a:
        assert b[step] == pytest.approx(a[step], abs=1e-5), (a, b)
    assert (two / "final" / "mgtrainer.json").is_file()

    # a killed rank: its node's launcher exits non-zero naming it; the other one stops too
    run = tmp_path / "killed"
    cfg = write_cfg(tmp_path / "killed.yaml", tiny_qwen2, shared_data, run, 2, max_steps=400, save_steps=2)
    procs = two_nodes(cfg, free_port())
    victim = worker_of(procs[1].pid)  # found while the job is alive (an idle machine trains fast)
    deadline = time.time() + 300  # any complete checkpoint: save_total_limit soon rotates checkpoint-2 away
    while not list(run.glob("checkpoint-*/trainer_state.json")) and time.time() < deadline:
        time.sleep(0.1)
    assert list(run.glob("checkpoint-*")), "no checkpoint appeared"
    os.kill(victim, signal.SIGKILL)
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode != 0 for p in procs)
    line = [ln for ln in outs[1][1].splitlines() if ln.startswith("mgtrainer: distributed job failed")]
    assert line and "killed by SIGKILL" in line[-1] and "rank " in line[-1], outs[1][1][-3000:]

    # resume: the same two-node command continues from the newest complete checkpoint
    end = max(int(p.parent.name.split("-")[1]) for p in run.glob("checkpoint-*/trainer_state.json")) + 2
    procs = two_nodes(cfg, free_port(), "train.resume_from_checkpoint=auto", f"train.max_steps={end}")
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, stderr) in zip(procs, outs):
        assert p.returncode == 0, stderr[-3000:]
    assert "resuming from" in outs[0][1] + outs[1][1]
    assert max(losses(run)) == end and (run / "final" / "mgtrainer.json").is_file()


def worker_of(launcher: int) -> int:
    """The training process under a launcher: mgtrainer -> torchrun -> worker (`-m mgtrainer train`)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        kids = descendants(launcher)
        workers = [pid for pid in kids if b"torch.distributed.run" not in cmdline(pid) and b"mgtrainer" in cmdline(pid)]
        if workers:
            return workers[-1]
        time.sleep(0.5)
    raise AssertionError(f"no worker under {launcher}")


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                kids = []
            out += kids
            todo += kids
    return out
