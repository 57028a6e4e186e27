"""orpo / simpo: reference-free losses; a full-tuning run changes the weights, logs reward accuracy and margins,
reloads to the same loss; kill + resume ends with the same losses; the losses themselves on known numbers."""

import math
from pathlib import Path

import pytest
from pref_helpers import assert_resume_matches, changed_params, rows

from mgtrainer import manifest as mf
from mgtrainer.app import runs


def test_orpo_trains_reloads_and_resumes(tiny_qwen2, make_cfg, shared_data, tmp_path, sigterm_at):
    demo = shared_data / "llama-factory" / "dpo_en_demo.json"
    sections = dict(data={"max_samples": 20, "val_size": 6, "cutoff_len": 128},
                    train={"max_steps": 4, "per_device_train_batch_size": 2, "learning_rate": 1e-3})
    assert_resume_matches(make_cfg, "orpo", tiny_qwen2, [demo], tmp_path, sigterm_at, ["max_prompt_length=48"],
                          **sections)
    plain = make_cfg("orpo", tiny_qwen2, [demo], overrides=["max_prompt_length=48",
                                                            f"train.output_dir={tmp_path / 'a'}"], **sections)
    out = Path(plain.train.output_dir)
    man = mf.read(out / "final")
    assert (man.task, man.finetuning_type, man.adapter_dir) == ("orpo", "full", None)
    assert {"eval_loss", "eval_rewards/accuracies", "eval_rewards/margins", "eval_nll/chosen"} <= set(man.metrics)
    assert all("rewards/margins" in r for r in rows(out) if "loss" in r)
    fed = [r["num_tokens"] for r in rows(out) if "loss" in r and "grad_norm" in r]  # as dpo's log counts them
    assert len(fed) == 4 and all(b > a > 0 for a, b in zip(fed, fed[1:])), fed
    assert changed_params(tiny_qwen2, out / "final")
    again = runs.evaluate(plain, model_dir=out / "final")
    assert again["eval_loss"] == pytest.approx(man.metrics["eval_loss"], rel=1e-4)


def test_reference_free_losses_on_known_numbers():
    import torch

    from mgtrainer.driver.pref_losses import orpo_loss, simpo_loss

    chosen, rejected = torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)])
    loss, rc, rr = orpo_loss(chosen, rejected, beta=0.1)
    odds = (0.5 / 0.5) / (0.25 / 0.75)  # odds ratio 3
    assert loss.item() == pytest.approx(-0.1 * math.log(1 / (1 + 1 / odds)), rel=1e-5)
    assert (rc - rr).item() > 0
    loss, rc, rr = simpo_loss(chosen, rejected, beta=2.0, gamma=0.5)
    margin = 2.0 * (math.log(0.5) - math.log(0.25)) - 0.5
    assert loss.item() == pytest.approx(math.log1p(math.exp(-margin)), rel=1e-5)
    swapped, _, _ = simpo_loss(rejected, chosen, beta=2.0, gamma=0.5)
    assert swapped.item() > loss.item()


def test_ftx_adds_an_sft_term_as_llama_factory_pref_ftx_does():
    """orpo keeps its own SFT term (weight 1) and ftx adds to it; simpo has none unless ftx says (LF's rule)."""
    from mgtrainer.driver.preference import reference_free_spec

    assert [reference_free_spec(True, 0.1, None, ftx, None).nll_weight for ftx in (0.0, 0.5)] == [1.0, 1.5]
    assert [reference_free_spec(False, 2.0, 0.5, ftx, None).nll_weight for ftx in (0.0, 1.0)] == [0.0, 1.0]
