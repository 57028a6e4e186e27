"""SIGTERM saves a checkpoint and stops; resume_from_checkpoint=auto continues to the same final loss."""

import json
import signal
from pathlib import Path

import pytest

from mgtrainer.app import runs
from mgtrainer.driver import trainer as dt


def _losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def test_sigterm_checkpoint_then_auto_resume_matches_uninterrupted(tiny_qwen2, make_cfg, shared_data, sigterm_at,
                                                                    tmp_path):
    data = [shared_data / "llama-factory" / "alpaca_en_demo.json"]
    sections = dict(data={"max_samples": 24, "cutoff_len": 96},
                    train={"max_steps": 6, "per_device_train_batch_size": 2, "save_steps": 100})
    plain = make_cfg("sft", tiny_qwen2, data, overrides=[f"train.output_dir={tmp_path / 'a'}"], **sections)
    runs.train(plain)

    cfg = make_cfg("sft", tiny_qwen2, data, overrides=[f"train.output_dir={tmp_path / 'b'}"], **sections)
    assert sigterm_at(runs.train, cfg, 3) == 143
    out = Path(cfg.train.output_dir)
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4"] and not (out / "final").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))

    runs.train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"resume_from_checkpoint": "auto"})}))
    a, b = _losses(Path(plain.train.output_dir)), _losses(out)
    assert sorted(b) == [1, 2, 3, 4, 5, 6]  # 1-4 before the stop, 5-6 after resuming
    assert b[6] == pytest.approx(a[6], rel=1e-5) and b[5] == pytest.approx(a[5], rel=1e-5)
    assert (out / "final" / "mgtrainer.json").is_file()


def test_resume_from_missing_checkpoint_is_a_user_error(tiny_qwen2, make_cfg, tmp_path):
    from mgtrainer.errors import MgtError

    cfg = make_cfg("sft", tiny_qwen2, [tmp_path / "x.jsonl"], train={"resume_from_checkpoint": str(tmp_path / "no")})
    with pytest.raises(MgtError, match="train.resume_from_checkpoint"):
        dt.resume_path(cfg)
    auto = make_cfg("sft", tiny_qwen2, [tmp_path / "x.jsonl"], train={"resume_from_checkpoint": "auto"})
    assert dt.resume_path(auto) is None  # nothing to resume yet: start fresh


def test_a_first_ctrl_c_checkpoints_like_sigterm(tiny_qwen2, make_cfg, shared_data, sigterm_at, tmp_path):
    data = [shared_data / "llama-factory" / "alpaca_en_demo.json"]
    cfg = make_cfg("sft", tiny_qwen2, data, overrides=[f"train.output_dir={tmp_path / 'c'}"],
                   data={"max_samples": 8, "cutoff_len": 64},
                   train={"max_steps": 4, "per_device_train_batch_size": 2, "save_steps": 100})
    before = signal.getsignal(signal.SIGINT)
    assert sigterm_at(runs.train, cfg, 2, signal.SIGINT) == 130  # 128 + SIGINT, after a checkpoint
    out = Path(cfg.train.output_dir)
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-3"] and not (out / "final").exists()
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C is the user's again after training
    runs.train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"resume_from_checkpoint": "auto"})}))
    assert sorted(_losses(out)) == [1, 2, 3, 4] and (out / "final" / "mgtrainer.json").is_file()
