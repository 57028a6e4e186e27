"""The final eval after training runs once: when training's last step was an eval step, the flow reuses that
eval's metrics (metrics.jsonl keeps one eval row for the final step); otherwise it evaluates the final model."""

import json
from pathlib import Path

import pytest

from mgtrainer.app import runs
from mgtrainer.driver import trainer as dt

REPO = Path(__file__).resolve().parents[2]
INTENTS = REPO / "script" / "examples" / "classify" / "data"


@pytest.fixture
def evaluate_calls(monkeypatch) -> list[int]:
    """The global step of every evaluate() the driver's trainers run."""
    calls: list[int] = []
    evaluate = dt.BudgetTrainer.evaluate

    def counted(self, *args, **kwargs):
        calls.append(self.state.global_step)
        return evaluate(self, *args, **kwargs)

    monkeypatch.setattr(dt.BudgetTrainer, "evaluate", counted)
    return calls


def _files(task, shared_data):
    if task == "classify":
        return [INTENTS / "intents_train.jsonl"], [INTENTS / "intents_eval.jsonl"]
    gsm = shared_data / "microsoft-foundry"
    return [gsm / "gsm8k_chat_train.jsonl"], [gsm / "gsm8k_chat_validation.jsonl"]


# eval_strategy steps evaluates the last step in any case (transformers adds that eval when max_steps is off the
# eval_steps grid): the flow reuses it. Without evaluation during training the flow evaluates once, itself.
@pytest.mark.parametrize("task, steps, strategy, evaluated", [
    ("sft", 2, "steps", [2]), ("sft", 3, "steps", [2, 3]), ("sft", 2, "no", [2]), ("classify", 2, "steps", [2])])
def test_the_final_step_is_evaluated_once(tiny_qwen2, make_cfg, shared_data, evaluate_calls, task, steps, strategy,
                                          evaluated):
    train, evals = _files(task, shared_data)
    data = {} if task == "classify" else {"max_samples": 8}  # classify: every label in the train rows
    cfg = make_cfg(task, tiny_qwen2, train, evals, data=data,
                   train={"max_steps": steps, "eval_strategy": strategy, "eval_steps": 2, "eval_on_start": False},
                   eval={"generation_samples": 2, "max_new_tokens": 4})
    metrics = runs.train(cfg)
    assert evaluate_calls == evaluated
    rows = [json.loads(line) for line in (Path(cfg.train.output_dir) / "metrics.jsonl").read_text().splitlines()]
    final = [r for r in rows if "eval_loss" in r and r["step"] == steps]
    assert len(final) == 1 and metrics["eval_loss"] == pytest.approx(final[0]["eval_loss"])
    if task == "sft":  # the reused eval carries what the callbacks added to it (generation metrics)
        assert {"eval_perplexity", "eval_rouge-l", "eval_exact_match"} <= set(metrics)
    else:
        assert {"eval_accuracy", "eval_macro_f1"} <= set(metrics)


@pytest.mark.parametrize("best, reused", [(None, True), ("out/checkpoint-4", True), ("out/checkpoint-2", False)])
def test_a_best_checkpoint_loaded_at_the_end_is_evaluated_unless_it_is_the_last_step(best, reused):
    """load_best_model_at_end: the final model holds the last step's weights only if the best checkpoint is the
    last step's (or none was kept); otherwise its eval is a new one."""
    from types import SimpleNamespace

    from mgtrainer.driver.callbacks import LastEval

    last, fresh = LastEval(), {"eval_loss": 2.0}
    last.step, last.metrics = 4, {"eval_loss": 1.0}
    trainer = SimpleNamespace(callback_handler=SimpleNamespace(callbacks=[last]), evaluate=lambda: fresh,
                              state=SimpleNamespace(global_step=4, best_model_checkpoint=best),
                              args=SimpleNamespace(load_best_model_at_end=True))
    assert dt.final_eval(trainer) == (last.metrics if reused else fresh)
