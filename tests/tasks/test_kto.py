"""kto: unpaired judged answers (LLaMA-Factory's kto demo); LoRA run with a held-out split logs KL and
rewards, changes the weights, reloads to the same loss; kill + resume ends with the same losses."""

from pathlib import Path

import pytest
from pref_helpers import assert_resume_matches, changed_params

from mgtrainer import manifest as mf
from mgtrainer.app import runs


def test_kto_trains_reloads_and_resumes(tiny_qwen2, make_cfg, shared_data, tmp_path, sigterm_at):
    demo = shared_data / "llama-factory" / "kto_en_demo.json"
    sections = dict(data={"max_samples": 20, "val_size": 6, "cutoff_len": 128},
                    lora={"finetuning_type": "lora", "rank": 4},
                    train={"max_steps": 4, "per_device_train_batch_size": 2, "learning_rate": 5e-3})
    over = ["max_prompt_length=48", "kto_chosen_weight=1.0", "kto_rejected_weight=1.2"]
    assert_resume_matches(make_cfg, "kto", tiny_qwen2, [demo], tmp_path, sigterm_at, over, **sections)
    plain = make_cfg("kto", tiny_qwen2, [demo], overrides=[*over, f"train.output_dir={tmp_path / 'a'}"], **sections)
    final = Path(plain.train.output_dir) / "final"
    man = mf.read(final)
    assert (man.task, man.head, man.finetuning_type, man.adapter_dir) == ("kto", "causal_lm", "lora", "adapter")
    assert {"eval_loss", "eval_kl"} <= set(man.metrics)
    assert any("self_attn" in n for n in changed_params(tiny_qwen2, final))
    again = runs.evaluate(plain, model_dir=final)
    assert again["eval_loss"] == pytest.approx(man.metrics["eval_loss"], rel=1e-4)


def test_kto_rows_split_prompt_and_judged_answer(tiny_qwen2, shared_data):
    from transformers import AutoTokenizer

    from mgtrainer.data import iter_records
    from mgtrainer.driver.pref_encode import encode_unpaired

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    recs = list(iter_records(shared_data / "llama-factory" / "kto_en_demo.json", kind="kto"))
    assert len(recs) == 300 and {r.label for r in recs} == {True, False}
    enc = encode_unpaired(tok, recs[:20], cutoff_len=100_000)
    for rec, row in zip(recs, enc.rows):
        msgs = [{"role": m.role, "content": m.content} for m in rec.messages]
        full = tok.apply_chat_template(msgs, tokenize=True, return_dict=True)["input_ids"]
        assert row["prompt_ids"] + row["completion_ids"] == full and row["label"] == rec.label
        assert tok.decode(row["completion_ids"]).startswith(rec.messages[-1].content[:20])


def test_one_row_a_step_becomes_two_with_half_the_accumulation(tmp_path, capsys):
    """LLaMA-Factory's kto examples train 1 row x 8 accumulation steps (its KL pairing allows it); TRL's KTOTrainer
    needs the other rows of a step for the KL term: 2 rows x 4 steps, the same rows per update, said in a note."""
    from mgtrainer.config import load_config
    from mgtrainer.errors import MgtError
    from mgtrainer.tasks import kto

    def spec(**train):
        return kto.spec(load_config({"task": "kto", "model": "m", "data": {"train": ["x.json"]},
                                     "train": {"output_dir": str(tmp_path), **train}}))

    args = spec(per_device_train_batch_size=1, gradient_accumulation_steps=8).args
    assert (args["per_device_train_batch_size"], args["gradient_accumulation_steps"]) == (2, 4)
    assert "per_device_train_batch_size 1 -> 2 and gradient_accumulation_steps 8 -> 4" in capsys.readouterr().err
    assert "per_device_train_batch_size" not in spec(per_device_train_batch_size=4).args
    with pytest.raises(MgtError, match="expected per_device_train_batch_size >= 2, or an even"):
        spec(per_device_train_batch_size=1, gradient_accumulation_steps=3)
