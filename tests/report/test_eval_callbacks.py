"""Evaluation that tells a story, on a real tiny sft run: a step-0 baseline, generation metrics and samples
at every eval (usable to pick the best checkpoint), and a fresh run that does not inherit the last one's."""

import json
from pathlib import Path

from mgtrainer.app import runs


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_generation_at_every_eval_picks_best_and_fresh_run_starts_clean(tiny_qwen2, make_cfg, shared_data):
    gsm = shared_data / "microsoft-foundry"

    def cfg(steps, overwrite=False):
        return make_cfg("sft", tiny_qwen2, [gsm / "gsm8k_chat_train.jsonl"], [gsm / "gsm8k_chat_validation.jsonl"],
                        data={"max_samples": 8, "cutoff_len": 128},
                        train={"max_steps": steps, "eval_strategy": "steps", "eval_steps": 2,
                               "metric_for_best_model": "eval_rouge-l", "early_stopping_patience": 5,
                               "overwrite_output_dir": overwrite},
                        eval={"generation_samples": 2, "max_new_tokens": 4})

    first = cfg(4)
    metrics = runs.train(first)
    out = Path(first.train.output_dir)
    rouge_steps = [r["step"] for r in _rows(out) if "eval_rouge-l" in r]
    assert rouge_steps == [0, 2, 4]  # baseline, each eval; the final eval reuses step 4's generations
    assert {"eval_rouge-l", "eval_bleu-4", "eval_exact_match"} <= set(metrics)
    samples = [json.loads(line) for line in (out / "eval_samples" / "step-2.jsonl").read_text().splitlines()]
    assert len(samples) == 2 and {"prompt", "reference", "output", "rouge-l", "exact_match"} <= set(samples[0])
    assert "<|im_start|>assistant" in samples[0]["prompt"] and samples[0]["reference"]

    runs.train(cfg(2, overwrite=True))  # a fresh run in the same folder (the run lock asks to say so)
    assert max(r["step"] for r in _rows(out)) == 2
    assert sorted(p.name for p in (out / "eval_samples").iterdir()) == ["step-0.jsonl", "step-2.jsonl"]
    html = (out / "report.html").read_text()
    assert 'data-metric="eval_rouge-l"' in html and "Eval samples at step 2" in html
