"""`train.report_to: tensorboard` writes TensorBoard event files under the output folder with the train
loss per logged step (the same numbers as metrics.jsonl); `report_to: none` writes none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgtrainer.app import runs


def _run(make_cfg, tiny_qwen2, shared_data, out: Path, report_to: str):
    cfg = make_cfg("sft", tiny_qwen2, [shared_data / "llama-factory" / "alpaca_en_demo.json"],
                   overrides=[f"train.output_dir={out}", f"train.report_to={report_to}"],
                   data={"max_samples": 12, "cutoff_len": 64}, train={"max_steps": 3, "per_device_train_batch_size": 4},
                   eval={"generation_samples": 0})
    runs.train(cfg)
    return out


def _event_files(out: Path) -> list[Path]:
    return sorted(out.rglob("events.out.tfevents.*"))


@pytest.mark.parametrize("report_to", ["tensorboard", "none"])
def test_report_to_tensorboard_or_none(report_to, make_cfg, tiny_qwen2, shared_data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = _run(make_cfg, tiny_qwen2, shared_data, tmp_path / "out", report_to)
    files = _event_files(out)
    if report_to == "none":
        assert files == [] and not (out / "runs").exists()
        return
    assert files and all(f.is_relative_to(out) for f in files)
    acc = EventAccumulator(str(files[0].parent)).Reload()
    assert "train/loss" in acc.Tags()["scalars"], acc.Tags()
    got = {e.step: e.value for e in acc.Scalars("train/loss")}
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    want = {r["step"]: r["loss"] for r in rows if "loss" in r}
    assert sorted(got) == sorted(want) == [1, 2, 3]
    assert all(abs(got[s] - want[s]) < 1e-5 for s in want)


TRACKER_ENV = ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DIR", "WANDB_PROJECT", "MLFLOW_TRACKING_URI",
               "MLFLOW_ALLOW_FILE_STORE")


def test_wandb_offline_and_mlflow_file_store_write_the_run(make_cfg, tiny_qwen2, shared_data, tmp_path, monkeypatch):
    """`report_to: [wandb, mlflow]` with no account, no network and nothing set: wandb writes an offline run and
    mlflow a file store, both in the run folder, with the train loss of metrics.jsonl; the report links both."""
    for key in TRACKER_ENV:  # unset for the run, and restored after it (the driver sets what is unset)
        monkeypatch.setenv(key, "x")
        monkeypatch.delenv(key)
    out = _run(make_cfg, tiny_qwen2, shared_data, tmp_path / "out", "wandb,mlflow")
    offline = sorted((out / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and list(offline[0].glob("run-*.wandb")), list((out / "wandb").iterdir())
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = {r["step"]: r["loss"] for r in rows if "loss" in r}
    loss_files = list((out / "mlruns").rglob("metrics/loss"))
    assert len(loss_files) == 1, list((out / "mlruns").rglob("*"))
    logged = {int(step): float(value) for _, value, step in map(str.split, loss_files[0].read_text().splitlines())}
    assert logged == pytest.approx(losses, rel=1e-4), (logged, losses)
    from mgtrainer.report.page import write_report

    page = write_report([out], tmp_path / "report.html").read_text()
    assert (out / "wandb").resolve().as_uri() in page and (out / "mlruns").resolve().as_uri() in page
