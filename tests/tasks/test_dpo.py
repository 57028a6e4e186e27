"""dpo: a few LoRA steps on LLaMA-Factory's dpo pairs change the weights, log reward accuracy/margins at every
eval, save -> reload gives the same loss (the same log-probs), the manifest is complete; kill + resume ends
with the same loss; the pairs are tokenised as the chat template renders them."""

from pathlib import Path

import pytest
from pref_helpers import assert_resume_matches, changed_params, rows

from mgtrainer import manifest as mf
from mgtrainer.app import runs

SMALL = dict(data={"max_samples": 24, "cutoff_len": 128})


def test_dpo_lora_trains_logs_rewards_and_reloads(tiny_qwen2, make_cfg, shared_data):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    demo = shared_data / "llama-factory" / "dpo_en_demo.json"
    cfg = make_cfg("dpo", tiny_qwen2, [demo], lora={"finetuning_type": "lora", "rank": 4},
                   data={"max_samples": 24, "val_size": 6, "cutoff_len": 128},
                   train={"max_steps": 4, "eval_strategy": "steps", "eval_steps": 2, "learning_rate": 5e-3},
                   overrides=["task.max_prompt_length=48", "pref_beta=0.1"])
    metrics = runs.train(cfg)
    out, final = Path(cfg.train.output_dir), Path(cfg.train.output_dir) / "final"
    evals = [r for r in rows(out) if "eval_loss" in r]
    assert [r["step"] for r in evals][:3] == [0, 2, 4]  # eval_on_start, then every eval_steps
    for r in evals:
        assert {"eval_rewards/accuracies", "eval_rewards/margins", "eval_rewards/chosen", "eval_kl/chosen"} <= set(r)
    assert evals[0]["eval_rewards/margins"] == 0.0  # before training the policy is the reference
    man = mf.read(final)
    assert (man.task, man.head, man.finetuning_type, man.adapter_dir) == ("dpo", "causal_lm", "lora", "adapter")
    assert man.template == "model" and man.max_length == 128
    assert {"eval_loss", "eval_rewards/accuracies", "eval_rewards/margins"} <= set(man.metrics)
    assert not (final / "adapter" / "ref").exists()  # one adapter: the reference was the adapter disabled
    changed = changed_params(tiny_qwen2, final)
    assert any("self_attn" in n for n in changed)
    again = runs.evaluate(cfg, model_dir=final)  # reloaded merged weights vs the base model as reference
    assert again["eval_loss"] == pytest.approx(metrics["eval_loss"], rel=1e-4)
    assert again["eval_rewards/margins"] == pytest.approx(metrics["eval_rewards/margins"], rel=1e-3, abs=1e-5)
    base, tuned = AutoModelForCausalLM.from_pretrained(tiny_qwen2), AutoModelForCausalLM.from_pretrained(final)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with_adapter = PeftModel.from_pretrained(base, final / "adapter").eval()
    assert torch.allclose(with_adapter(ids).logits, tuned.eval()(ids).logits, atol=1e-4)


def test_dpo_full_kill_and_resume_same_loss(tiny_qwen2, make_cfg, shared_data, tmp_path, sigterm_at):
    """Full tuning: the frozen reference copy; SIGTERM at step 2, resume_from_checkpoint=auto, same losses."""
    demo = shared_data / "llama-factory" / "dpo_en_demo.json"
    assert_resume_matches(make_cfg, "dpo", tiny_qwen2, [demo], tmp_path, sigterm_at, ["max_prompt_length=48"],
                          train={"max_steps": 4, "per_device_train_batch_size": 2, "save_steps": 100}, **SMALL)


def test_pairs_follow_the_chat_template_and_limits(tiny_qwen2, shared_data):
    from transformers import AutoTokenizer

    from mgtrainer.data import iter_records
    from mgtrainer.driver.pref_encode import encode_pairs

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    recs = list(iter_records(shared_data / "microsoft-foundry" / "orca_dpo_pairs_validation.jsonl",
                             kind="preference"))[:30]
    enc = encode_pairs(tok, recs, cutoff_len=100_000)
    assert len(enc.rows) == 30 and not enc.dropped
    for rec, row in zip(recs, enc.rows):
        msgs = [{"role": m.role, "content": m.content} for m in rec.messages + rec.chosen]
        assert row["prompt_ids"] + row["chosen_ids"] == tok.apply_chat_template(msgs, tokenize=True,
                                                                                 return_dict=True)["input_ids"]
    short = encode_pairs(tok, recs, cutoff_len=160, max_prompt_length=48)
    assert all(len(r["prompt_ids"]) <= 64 and len(r["prompt_ids"]) + len(r["chosen_ids"]) <= 160 for r in short.rows)
    assert short.truncated > 0
    tight = encode_pairs(tok, recs, cutoff_len=40)
    assert tight.dropped and all("no room under cutoff_len 40" in why for _, why in tight.dropped)


def test_preference_names_users_bring(tiny_qwen2):
    from mgtrainer.config import load_config
    from mgtrainer.errors import MgtError

    base = {"model_name_or_path": str(tiny_qwen2), "dataset": "x.json", "output_dir": "/tmp/o"}
    lf = load_config(base | {"stage": "dpo", "pref_beta": 0.2, "pref_loss": "simpo", "simpo_gamma": 0.7,
                             "pref_ftx": 0.5, "max_prompt_length": 64})
    assert (lf.task.name, lf.task.beta, lf.task.loss, lf.task.simpo_gamma, lf.task.ftx,
            lf.task.max_prompt_length) == ("dpo", 0.2, "simpo", 0.7, 0.5, 64)
    trl = load_config(base | {"task": "dpo", "beta": 0.3, "loss_type": ["ipo"], "precompute_ref_log_probs": True})
    assert (trl.task.beta, trl.task.loss, trl.task.precompute_ref_log_probs) == (0.3, "ipo", True)
    kto = load_config(base | {"stage": "kto", "kto_chosen_weight": 1.5, "kto_rejected_weight": 0.8})
    assert (kto.task.name, kto.task.desirable_weight, kto.task.undesirable_weight) == ("kto", 1.5, 0.8)
    with pytest.raises(MgtError, match="simpo_gamma"):
        load_config(base | {"stage": "dpo", "pref_loss": "sigmoid", "simpo_gamma": 0.5})
    with pytest.raises(MgtError, match="precompute_ref_log_probs"):
        load_config(base | {"stage": "dpo", "pref_loss": "orpo", "precompute_ref_log_probs": True})
    with pytest.raises(MgtError, match="pref_loss|loss"):
        load_config(base | {"stage": "dpo", "pref_loss": "nonsense"})
    with pytest.raises(MgtError, match="ppo"):
        load_config(base | {"stage": "ppo"})


def test_data_check_with_model_lists_rows_training_drops(tiny_qwen2, tmp_path, capsys):
    """`data check --task dpo --model M --cutoff-len N`: rows that pass the row rules but that training would
    drop once tokenised are listed one line each with the reason, and the exit code is 2."""
    import json

    from mgtrainer.cli import build_parser

    long_answer = "the same long answer " * 40
    rows = [{"prompt": "word " * 300, "chosen": "yes", "rejected": "no"},  # prompt over the cutoff
            {"prompt": "q", "chosen": long_answer + "one", "rejected": long_answer + "two"},  # differ past it
            {"prompt": "q", "chosen": "yes", "rejected": "no"}]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = build_parser().parse_args(["data", "check", str(data), "--task", "dpo", "--model", str(tiny_qwen2),
                                      "--cutoff-len", "64"])
    assert args.func(args) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{data}:1: prompt of ") and "leaves no room under cutoff_len 64" in err[0]
    assert err[1].startswith(f"{data}:2: chosen and rejected are the same tokens within cutoff_len")
    assert err[2] == f"tokenised with {tiny_qwen2}: 2 of 3 rows would be dropped by training"
    args = build_parser().parse_args(["data", "check", str(data), "--task", "dpo", "--model", str(tiny_qwen2),
                                      "--cutoff-len", "4096"])
    assert args.func(args) == 0  # with room for everything, nothing is dropped


def test_trl_configs_follow_train_gradient_checkpointing(tmp_path):
    """TRL's DPO/KTO/GRPO configs default gradient checkpointing to True; mgtrainer's train.gradient_checkpointing
    (default false) decides, so a preference run does not silently pay ~1/3 more compute per step."""
    from trl import DPOConfig, GRPOConfig, KTOConfig

    from mgtrainer.config import load_config
    from mgtrainer.driver.trainer import training_args

    base = {"task": "dpo", "model": "m", "data": {"train": ["x.json"]}, "train": {"output_dir": str(tmp_path)}}
    for cls in (DPOConfig, KTOConfig, GRPOConfig):
        assert cls(output_dir=str(tmp_path), use_cpu=True).gradient_checkpointing is True  # TRL's default
        assert training_args(load_config(base), args_cls=cls).gradient_checkpointing is False
        on = load_config(base, ["train.gradient_checkpointing=true"])
        assert training_args(on, args_cls=cls).gradient_checkpointing is True
