"""Shared by the preference-task tests (dpo, kto, orpo): a small run config, metrics rows, SIGTERM-and-resume."""

import json
from pathlib import Path

import pytest

from mgtrainer.app import runs


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def losses(out: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in rows(out) if "loss" in r}


def killed_then_resumed(cfg, step: int, sigterm_at) -> Path:
    """Train cfg, SIGTERM at `step` (exit 143, a checkpoint, no final/), then resume_from_checkpoint=auto."""
    assert sigterm_at(runs.train, cfg, step) == 143
    out = Path(cfg.train.output_dir)
    assert list(out.glob("checkpoint-*")) and not (out / "final").exists()
    runs.train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"resume_from_checkpoint": "auto"})}))
    return out


def assert_resume_matches(make_cfg, task, model, files, tmp_path, sigterm_at, overrides=(), **sections):
    """The same run uninterrupted and killed at step 2 then resumed ends with the same losses."""
    plain = make_cfg(task, model, files, overrides=[*overrides, f"train.output_dir={tmp_path / 'a'}"],
                     **sections)
    runs.train(plain)
    cfg = make_cfg(task, model, files, overrides=[*overrides, f"train.output_dir={tmp_path / 'b'}"],
                   **sections)
    out = killed_then_resumed(cfg, 2, sigterm_at)
    a, b = losses(Path(plain.train.output_dir)), losses(out)
    last = max(a)
    assert sorted(b) == sorted(a) and last >= 4
    assert b[last] == pytest.approx(a[last], rel=1e-4) and b[last - 1] == pytest.approx(a[last - 1], rel=1e-4)
    assert (out / "final" / "mgtrainer.json").is_file()


def changed_params(base_dir, tuned_dir) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir)
    tuned = AutoModelForCausalLM.from_pretrained(tuned_dir)
    return [n for (n, a), b in zip(base.named_parameters(), tuned.parameters()) if not torch.equal(a, b)]
