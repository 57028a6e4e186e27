"""grpo on the tiny Qwen2: config names, prompt-only data, each reward kind, a LoRA run (parameters change,
final/ reloads with the same log-probs, manifest, reward/kl in metrics.jsonl), kill-and-resume, and the
served-rm reward against a real `mgtrainer serve` (heavy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import TrainerCallback

from mgtrainer import manifest as mf
from mgtrainer.app import runs
from mgtrainer.config import load_config
from mgtrainer.errors import MgtError

PROMPTS = [{"prompt": f"Answer with a number: how many {w}s?", "answer": str(n)}
           for w, n in [("apple", 12), ("river", 7), ("cloud", 30), ("stone", 4), ("bird", 9), ("tree", 15)]]
DIGITS = {"function": "mgtrainer.rewards:digit_ratio"}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def grpo_cfg(model, data: Path, out: Path, rewards=(DIGITS,), finetuning="lora", steps=3, eval_data=None, **task):
    return load_config({
        "task": {"name": "grpo", "reward_funcs": list(rewards), "num_generations": 4, "max_completion_length": 6,
                 **task},
        "model": {"name_or_path": str(model)},
        "data": {"train": [str(data)], "eval": [str(eval_data)] if eval_data else [], "cutoff_len": 64},
        "train": {"output_dir": str(out), "max_steps": steps, "eval_strategy": "steps" if eval_data else "no",
                  "eval_steps": steps, "eval_on_start": False, "per_device_train_batch_size": 4,
                  "per_device_eval_batch_size": 4, "logging_steps": 1, "save_steps": 100, "learning_rate": 5e-3,
                  "preview_samples": 0, "report_to": "none"},
        "lora": {"finetuning_type": finetuning, "rank": 4},
    }, [])


def seeded_head(out: Path, base: Path, labels: list[str] | None, task: str, std: float = 0.5) -> Path:
    """A final/ of a one-logit (rm) or labelled (classify) head on the tiny model, as those tasks write it."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    kw = {"num_labels": len(labels), "id2label": dict(enumerate(labels))} if labels else {"num_labels": 1}
    model = AutoModelForSequenceClassification.from_pretrained(base, dtype=torch.float32, **kw)
    with torch.no_grad():
        model.score.weight.normal_(0.0, std)
    tok = AutoTokenizer.from_pretrained(base)
    model.config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)
    mf.write(mf.Manifest(task=task, base_model=str(base), head="sequence_classification", labels=labels,
                         template="model", max_length=128), out)
    return out


# -- config and data (no training) -------------------------------------------------------------------
def test_trl_names_map_to_task_fields(tiny_qwen2, tmp_path):
    cfg = load_config({"stage": "grpo", "model_name_or_path": str(tiny_qwen2), "dataset": "x.jsonl",
                       "reward_funcs": ["mgtrainer.rewards:exact_number", str(tiny_qwen2)], "reward_weights": [1, 0.5],
                       "num_generations": 8, "max_completion_length": 32, "beta": 0.1, "loss_type": "dr_grpo",
                       "temperature": 0.7, "output_dir": str(tmp_path)}, [])
    t = cfg.task
    assert (t.num_generations, t.max_completion_length, t.beta, t.loss, t.temperature) == (8, 32, 0.1, "dr_grpo", 0.7)
    assert t.reward_funcs[0].function == "mgtrainer.rewards:exact_number" and t.reward_funcs[1].model == str(tiny_qwen2)
    assert t.weights() == [1.0, 0.5]
    with pytest.raises(MgtError, match="reward_weights"):
        load_config({"task": {"name": "grpo", "reward_funcs": [DIGITS], "reward_weights": [1, 2]},
                     "model": str(tiny_qwen2), "data": {"train": ["x"]}}, [])
    with pytest.raises(MgtError, match="url"):
        load_config({"task": {"name": "grpo", "reward_funcs": ["http://127.0.0.1:1"]},
                     "model": str(tiny_qwen2), "data": {"train": ["x"]}}, [])


def test_prompt_only_rows_and_rejections(tmp_path):
    from mgtrainer.data.checks import check

    rows = [{"messages": [{"role": "user", "content": "Say 3"}], "answer": "3"},
            {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "42"}]},
            {"messages": [{"role": "assistant", "content": "no prompt"}]},
            {"messages": [{"role": "user", "content": "   "}]}]
    rep = check(str(write_jsonl(tmp_path / "m.jsonl", rows)), kind="prompt")
    assert rep.rows == 2 and [s.rsplit(":", 1)[1] for s, _ in rep.rejected] == ["3", "4"]
    assert "first turn" in rep.rejected[0][1] and "empty prompt" in rep.rejected[1][1]
    alpaca = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Add", "input": "2 and 2", "answer": "4"}, {"input": "x"}])
    rep = check(str(alpaca), kind="prompt")
    assert rep.rows == 1 and "instruction" in rep.rejected[0][1]


def test_records_reach_rewards_as_columns(tmp_path):
    from mgtrainer.data import iter_records
    from mgtrainer.tasks.grpo import records_dataset

    rows = [{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "The answer is 42"}]},
            {"messages": [{"role": "user", "content": "P"}], "answer": "7"}]
    ds = records_dataset(list(iter_records(write_jsonl(tmp_path / "r.jsonl", rows), kind="prompt")))
    assert ds[0]["prompt"] == [{"role": "user", "content": "Q"}] and ds[0]["reference"] == "The answer is 42"
    assert ds[1]["answer"] == "7" and ds[1]["reference"] is None


def test_rule_rewards():
    from mgtrainer import rewards as R

    chat = [[{"role": "assistant", "content": "so 12 + 3 = 15"}], [{"role": "assistant", "content": "maybe 14"}]]
    assert R.exact_number(chat, answer=["15", "15"]) == [1.0, 0.0]
    assert R.exact_number(["1,200 items"], reference=["#### 1200"]) == [1.0]
    assert R.exact_number(["12"], answer=["none"]) == [None]
    assert R.number_format(["The answer is 42.", "42 apples", "x\n7"]) == [1.0, 0.0, 1.0]
    assert R.digit_ratio(["a1", "", "99"]) == [0.5, 0.0, 1.0]
    assert R.length_penalty(["x"] * 2, completion_ids=[[1] * 10, [1] * 30], max_tokens=20) == [0.0, -0.5]


def test_model_rewards_read_the_manifest(tiny_qwen2, tmp_path, make_cfg):
    """rm: the head's raw logit on the rendered conversation; classify: the probability of `label`."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from mgtrainer.driver import rewarding

    rm = seeded_head(tmp_path / "rm", tiny_qwen2, None, "rm")
    cls = seeded_head(tmp_path / "cls", tiny_qwen2, ["bad", "good"], "classify", std=0.02)
    model_cfg = make_cfg("sft", tiny_qwen2, [tmp_path / "x"]).model
    prompts = [[{"role": "user", "content": "How many?"}]] * 2
    completions = [[{"role": "assistant", "content": "12 apples"}], [{"role": "assistant", "content": "none"}]]
    got = rewarding.ModelReward(rewarding.Reward(model=str(rm)), model_cfg)(prompts=prompts, completions=completions)
    tok, ref = AutoTokenizer.from_pretrained(rm), AutoModelForSequenceClassification.from_pretrained(rm).eval()
    for p, c, g in zip(prompts, completions, got):
        ids = tok(tok.apply_chat_template(p + c, tokenize=False), return_tensors="pt")
        with torch.no_grad():
            assert g == pytest.approx(float(ref(**ids).logits[0, 0]), abs=1e-5)
    good = rewarding.ModelReward(rewarding.Reward(model=str(cls), label="good"), model_cfg)
    bad = rewarding.ModelReward(rewarding.Reward(model=str(cls), label="bad"), model_cfg)
    g, b = good(prompts=prompts, completions=completions), bad(prompts=prompts, completions=completions)
    assert all(0 < x < 1 for x in g) and [x + y for x, y in zip(g, b)] == pytest.approx([1.0, 1.0], abs=1e-6)
    assert g[0] != pytest.approx(g[1])  # the completion alone is classified, and the two differ
    with pytest.raises(MgtError, match="label"):
        rewarding.ModelReward(rewarding.Reward(model=str(cls), label="meh"), model_cfg)


# -- training -------------------------------------------------------------------------------------------
class LogProbsAtEnd(TrainerCallback):
    """Log-probs of a fixed sequence from the trained in-memory model, at the end of training."""

    ids = [[5, 6, 7, 8, 9, 10, 11, 12]]

    def on_train_end(self, args, state, control, model=None, **kwargs):
        LogProbsAtEnd.value = log_probs(model, self.ids)


def log_probs(model, ids):
    import torch

    with torch.no_grad():
        x = torch.tensor(ids, device=model.device)
        return model.eval()(input_ids=x).logits.log_softmax(-1).cpu()


def with_callback(monkeypatch, callback):
    from mgtrainer.driver import trainer as dt

    build = dt.build_trainer

    def patched(*args, **kwargs):
        trainer = build(*args, **kwargs)
        trainer.add_callback(callback)
        return trainer

    monkeypatch.setattr(dt, "build_trainer", patched)


@pytest.fixture(scope="module")
def lora_run(tiny_qwen2, tmp_path_factory):
    root = tmp_path_factory.mktemp("grpo")
    rm = seeded_head(root / "rm", tiny_qwen2, None, "rm")
    data = write_jsonl(root / "p.jsonl", PROMPTS)
    held_out = write_jsonl(root / "e.jsonl", [{"prompt": "Answer with a number: how many boats?", "answer": "3"}])
    cfg = grpo_cfg(tiny_qwen2, data, root / "out", rewards=(DIGITS, {"model": str(rm), "weight": 0.5}), beta=0.1,
                   eval_data=held_out)
    mp = pytest.MonkeyPatch()
    with_callback(mp, LogProbsAtEnd())
    try:
        metrics = runs.train(cfg)
    finally:
        mp.undo()
    return cfg, Path(cfg.train.output_dir), metrics


def test_lora_run_logs_rewards_and_kl(lora_run):
    cfg, out, metrics = lora_run
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "reward" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    for r in steps:
        assert {"reward_std", "rewards/digit_ratio/mean", "rewards/rm/mean", "rewards/rm/std", "kl"} <= set(r)
        want = r["rewards/digit_ratio/mean"] + 0.5 * r["rewards/rm/mean"]
        assert r["reward"] == pytest.approx(want, abs=1e-4)  # the weighted sum
    assert any(r["kl"] > 0 for r in steps[1:])  # the policy moved away from the reference
    evals = [r for r in rows if "eval_reward" in r]
    assert [r["step"] for r in evals] == [3, 3] and {"eval_rewards/rm/mean", "eval_kl"} <= set(evals[-1])
    assert metrics["eval_reward"] == pytest.approx(evals[-1]["eval_reward"])
    assert (out / "plots" / "eval_rewards_rm_mean.png").is_file()
    assert (out / "report.html").is_file() and "rewards/rm/mean" in (out / "report.html").read_text()


def test_final_manifest_params_and_same_log_probs(lora_run, tiny_qwen2):
    import torch
    from transformers import AutoModelForCausalLM

    cfg, out, metrics = lora_run
    man = mf.read(out / "final")
    assert (man.task, man.head, man.finetuning_type, man.adapter_dir, man.template) == \
        ("grpo", "causal_lm", "lora", "adapter", "model")
    assert man.base_model == str(tiny_qwen2) and "eval_reward" in man.metrics and man.max_length == 64
    assert sorted(p.name for p in (out / "final" / "adapter").iterdir() if p.is_dir()) == []  # no 'ref' adapter
    base, tuned = AutoModelForCausalLM.from_pretrained(tiny_qwen2), AutoModelForCausalLM.from_pretrained(out / "final")
    changed = [n for (n, a), b in zip(base.named_parameters(), tuned.parameters()) if not torch.equal(a, b)]
    assert any("self_attn" in n for n in changed)
    assert torch.allclose(log_probs(tuned, LogProbsAtEnd.ids), LogProbsAtEnd.value, atol=1e-5)


def test_eval_of_the_trained_model(lora_run):
    """`mgtrainer eval`: fresh completions of final/ on the eval prompts, scored by the same rewards; the
    reference is then final/ itself, so its KL is 0."""
    cfg, out, _ = lora_run
    got = runs.evaluate(cfg, model_dir=out / "final")
    assert 0.0 <= got["eval_rewards/digit_ratio/mean"] <= 1.0 and "eval_rewards/rm/mean" in got
    assert got["eval_kl"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.heavy
def test_kill_and_resume_gives_the_same_final_loss(tiny_qwen2, tmp_path, sigterm_at):
    data = write_jsonl(tmp_path / "p.jsonl", PROMPTS)
    plain = grpo_cfg(tiny_qwen2, data, tmp_path / "a", finetuning="full", steps=4)
    runs.train(plain)
    cfg = grpo_cfg(tiny_qwen2, data, tmp_path / "b", finetuning="full", steps=4)
    assert sigterm_at(runs.train, cfg, 2) == 143
    assert [p.name for p in (tmp_path / "b").glob("checkpoint-*")] == ["checkpoint-3"]
    runs.train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"resume_from_checkpoint": "auto"})}))

    def logged(out):
        return {r["step"]: r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r}

    a, b = logged(tmp_path / "a"), logged(tmp_path / "b")
    assert sorted(b) == [1, 2, 3, 4]
    assert b[4]["loss"] == pytest.approx(a[4]["loss"], rel=1e-4, abs=1e-7)
    assert b[4]["reward"] == pytest.approx(a[4]["reward"], rel=1e-5)


@pytest.mark.heavy
@pytest.mark.serve
def test_served_rm_reward_equals_in_process(tiny_qwen2, make_cfg, tmp_path, monkeypatch):
    """A real rm run's final/, served by `mgtrainer serve` (vLLM, API key): the HTTP reward equals the
    in-process one within 1e-4, a wrong key is a clear error, and grpo trains with the served reward."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
    from servehelp import API_KEY, start_server

    from mgtrainer.driver import rewarding

    pairs = write_jsonl(tmp_path / "pairs.jsonl", [
        {"prompt": p["prompt"], "chosen": f"There are {p['answer']}.", "rejected": "I am not sure."} for p in PROMPTS])
    rm_cfg = make_cfg("rm", tiny_qwen2, [pairs], overrides=[f"train.output_dir={tmp_path / 'rm'}"],
                      train={"max_steps": 2})
    runs.train(rm_cfg)
    final = tmp_path / "rm" / "final"
    server = start_server(final)
    try:
        monkeypatch.setenv("MGT_GRPO_TEST_KEY", API_KEY)
        served = rewarding.ServedReward(rewarding.Reward(url=server.url, model=str(final), api_key_env="MGT_GRPO_TEST_KEY"))
        local = rewarding.ModelReward(rewarding.Reward(model=str(final)), rm_cfg.model)
        prompts = [[{"role": "user", "content": p["prompt"]}] for p in PROMPTS]
        completions = [[{"role": "assistant", "content": c}] for c in ["There are 12.", "no idea", "7", "a b c", "", "15."]]
        got, ref = served(prompts=prompts, completions=completions), local(prompts=prompts, completions=completions)
        assert max(abs(a - b) for a, b in zip(got, ref)) < 1e-4 and max(ref) - min(ref) > 1e-3
        monkeypatch.setenv("MGT_GRPO_TEST_KEY", "wrong")
        with pytest.raises(MgtError, match="401"):
            served(prompts=prompts[:1], completions=completions[:1])
        monkeypatch.setenv("MGT_GRPO_TEST_KEY", API_KEY)
        data = write_jsonl(tmp_path / "p.jsonl", PROMPTS)
        cfg = grpo_cfg(tiny_qwen2, data, tmp_path / "grpo", steps=2, rewards=(
            {"url": server.url, "model": str(final), "api_key_env": "MGT_GRPO_TEST_KEY"},))
        runs.train(cfg)
        rows = [json.loads(line) for line in (tmp_path / "grpo" / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows if "rewards/rm_http/mean" in r] == [1, 2]
    finally:
        server.stop()
