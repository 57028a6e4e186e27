"""The report page from run folders written by hand (the files a run writes), its pieces, and the CLI."""

import json
from pathlib import Path

import pytest

from mgtrainer.cli import main
from mgtrainer.report.charts import axis_kind, thin
from mgtrainer.report.page import metric_order, write_report
from mgtrainer.report.samples import best_and_worst, evolution, word_diff

REPO = Path(__file__).resolve().parents[2]


def make_run(folder: Path, lr: float, accuracy_end: float = 1.0) -> Path:
    rows = [{"step": 0, "epoch": 0, "eval_loss": 2.0, "eval_accuracy": 0.992, "eval_runtime": 1.5},
            {"step": 1, "epoch": 0.5, "loss": 2.1, "learning_rate": lr, "grad_norm": 3.0},
            {"step": 2, "epoch": 1, "loss": 1.4, "learning_rate": lr / 2, "grad_norm": 2.0},
            {"step": 2, "epoch": 1, "eval_loss": 1.2, "eval_accuracy": accuracy_end, "eval_runtime": 1.1},
            {"step": 2, "epoch": 1, "train_runtime": 65.0, "train_samples_per_second": 4.0,
             "train_steps_per_second": 0.5, "total_flos": 1e9, "train_loss": 1.75}]
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    samples = [{"prompt": f"q{i}", "reference": f"the answer is {i}", "output": out, "rouge-l": score,
                "exact_match": False} for i, (out, score) in enumerate([("the answer is 0", 100.0), ("the reply is 1", 75.0),
                                                                        ("no", 0.0), ("the answer 3", 85.7)])]
    for step in (0, 2):
        (folder / "eval_samples").mkdir(exist_ok=True)
        (folder / "eval_samples" / f"step-{step}.jsonl").write_text(
            "".join(json.dumps({**s, "output": s["output"] if step else ""}) + "\n" for s in samples))
    (folder / "eval_details").mkdir()
    (folder / "eval_details" / "step-2.json").write_text(json.dumps(
        {"labels": ["yes", "no"], "confusion_matrix": [[3, 1], [0, 4]],
         "per_class": {"yes": {"precision": 1.0, "recall": 0.75, "f1-score": 0.86, "support": 4},
                       "no": {"precision": 0.8, "recall": 1.0, "f1-score": 0.89, "support": 4}}}))
    info = {"task": "sft", "config": {"task": {"name": "sft"}, "model": {"name_or_path": "tiny"},
                                      "train": {"learning_rate": lr, "output_dir": str(folder)}},
            "versions": {"python": "3.11", "transformers": "5"}, "started": 0, "max_steps": 2,
            "preview": [{"pieces": [["<user> hi ", False], ["hello <end>", True]], "tokens": 5, "trained": 3,
                         "label": None},
                        {"pieces": [["is it?", False]], "tokens": 3, "trained": None, "label": 1}],
            "lengths": [5, 7, 9, 9]}
    (folder / "run_info.json").write_text(json.dumps(info))
    return folder


def test_word_diff_and_ranking():
    parts = word_diff("the answer is 4", "the answer was 4 !")
    assert "".join(t for op, t in parts if op != "del") == "the answer was 4 !"
    assert "".join(t for op, t in parts if op != "ins") == "the answer is 4"
    assert ("del", "is") in parts and ("ins", "was") in parts
    by_step = {s: [{"reference": "r", "output": str(s)}] for s in range(0, 20, 2)}
    steps, rows = evolution(by_step, most_steps=4)
    assert steps[0] == 0 and steps[-1] == 18 and len(steps) == 4 and [c["output"] for c in rows[0]["cells"]][-1] == "18"
    ranked = best_and_worst([{"rouge-l": float(i)} for i in range(10)], k=2)
    assert [(r["rank"], r["rouge-l"]) for r in ranked] == [("best", 9), ("best", 8), ("worst", 1), ("worst", 0)]


def test_honest_axes():
    assert axis_kind("eval_accuracy", [0.992, 1.0]) == "unit"  # no zoom: 0.992 -> 1.0 is not a leap
    assert axis_kind("eval_ndcg@10", [0.3, 0.5]) == "unit"
    assert axis_kind("eval_rouge-l", [12.0, 30.0]) == "percent"
    assert axis_kind("eval_perplexity", [900.0, 40.0]) == "log"
    assert axis_kind("loss", [2.3, 2.2]) == "zero"
    assert axis_kind("eval_margin", [0.2, 1.0]) == "free"  # signed, though positive so far
    long = [(i, float(i)) for i in range(10_001)]
    assert len(thin(long)) <= 1501 and thin(long)[0] == long[0] and thin(long)[-1] == long[-1]
    assert metric_order(["grad_norm", "eval_accuracy", "eval_loss", "loss", "perplexity"]) == [
        "loss", "eval_loss", "perplexity", "eval_accuracy", "grad_norm"]


def test_page_overlays_runs_with_baseline_samples_and_details(tmp_path):
    a, b = make_run(tmp_path / "a" / "run", 1e-3), make_run(tmp_path / "b" / "run", 5e-3, 0.996)
    html = write_report([a, b], tmp_path / "r.html").read_text()
    for metric in ("loss", "eval_loss", "eval_accuracy", "learning_rate", "grad_norm"):
        assert f'data-metric="{metric}" data-runs="run0 run1"' in html, metric
        assert f'id="line--run0--{metric}"' in html and f'id="line--run1--{metric}"' in html
    assert 'id="baseline--run1--eval_accuracy"' in html and 'id="baseline--run0--loss"' not in html
    assert 'data-metric="train_runtime"' not in html and "1m 05s" in html  # timing: in the table, not a chart
    assert "a/run" in html and "b/run" in html  # same folder names: told apart by their parents
    assert html.count('<tr class="sample best">') == 4 and html.count('<tr class="sample worst">') == 4
    assert "<del>answer</del><ins>reply</ins>" in html and "(empty output)" in html  # the diff; the baseline's empty outputs
    assert '<table class="evolution samples"' in html and "step 0 (baseline)" in html
    assert '<table class="cm"' in html and "<th>yes</th>" in html
    assert '<span class="trained">hello &lt;end&gt;</span>' in html  # escaped, highlighted
    assert "3 tokens, label no" in html  # a classify label id shown by name
    assert "train.learning_rate" in html  # config differences between the runs


def test_report_verb(tmp_path, capsys):
    a, b = make_run(tmp_path / "a", 1e-3), make_run(tmp_path / "b", 2e-3)
    assert main(["report", str(a)]) == 0
    assert (a / "report.html").is_file() and (a / "plots" / "eval_accuracy.png").is_file()
    assert main(["report", str(a), str(b), "-o", str(tmp_path / "both.html")]) == 0
    assert 'data-runs="run0 run1"' in (tmp_path / "both.html").read_text()
    assert main(["report", str(a), str(tmp_path / "nothing")]) == 2
    assert "metrics.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()


def test_eval_on_start_follows_evaluation(make_cfg, tiny_qwen2):
    from mgtrainer.driver.trainer import training_args

    data = REPO / "script" / "examples" / "classify" / "data" / "intents_train.jsonl"
    assert training_args(make_cfg("classify", tiny_qwen2, [data], [data], train={"eval_strategy": "steps"})).eval_on_start
    assert not training_args(make_cfg("classify", tiny_qwen2, [data])).eval_on_start
    off = make_cfg("classify", tiny_qwen2, [data], [data], train={"eval_strategy": "steps", "eval_on_start": False})
    assert not training_args(off).eval_on_start


@pytest.mark.heavy
def test_report_from_the_light_core(tmp_path, mgt_light):
    """The light core has no matplotlib: `mgt report` re-runs itself in the train env."""
    run = make_run(tmp_path / "run", 1e-3)
    proc = mgt_light("report", run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "running in the train env" in proc.stderr  # it did re-run itself
    assert (run / "report.html").is_file() and "data-metric=\"eval_accuracy\"" in (run / "report.html").read_text()
