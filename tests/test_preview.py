"""Preview highlights exactly the trained tokens; plots come from metrics.jsonl; CLI errors are one line."""

import io
import json

import pytest

from rich.console import Console

from mgtrainer.cli import main
from mgtrainer.preview import histogram, render_row, show
from mgtrainer.driver.tokenize import Encoded
from mgtrainer.report.plots import report

def test_preview_highlights_trained_tokens(tiny_qwen2, capsys):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    prompt, answer = tok("Question: 2+2?")["input_ids"], tok(" It is 4.")["input_ids"]
    row = {"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer}
    text = render_row(tok, row)
    trained = "".join(text.plain[s.start:s.end] for s in text.spans if "green" in str(s.style))
    assert trained == " It is 4." and text.plain == "Question: 2+2? It is 4."
    out = io.StringIO()
    show(tok, Encoded(rows=[row] * 3, truncated=1), 1, console=Console(file=out, width=100))
    assert "3 rows" in out.getvalue() and "1 truncated" in out.getvalue() and str(len(answer)) + " trained" in out.getvalue()
    assert histogram([10, 10, 50]).splitlines()[0].endswith(" 2")


def test_plots_from_metrics_jsonl(tmp_path):
    rows = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5},
            {"step": 2, "eval_loss": 1.7, "eval_accuracy": 0.5, "eval_runtime": 1.0},
            {"step": 4, "eval_loss": 1.2, "eval_accuracy": 0.8, "eval_runtime": 1.0}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    names = sorted(p.name for p in report(tmp_path))
    assert names == ["eval_accuracy.png", "loss.png"]
    assert (tmp_path / "plots" / "loss.png").stat().st_size > 1000
    assert main(["report", str(tmp_path)]) == 0


def test_zeroshot_reference_drawn_on_the_trained_metrics_plot(tmp_path, monkeypatch):
    """eval_zeroshot_<m> (a starting point, e.g. rerank's bi-encoder) is a line on eval_<m>'s plot, not a
    plot of its own; a zeroshot metric with no trained twin keeps its own plot."""
    from mgtrainer.report import plots

    rows = [{"step": s, "eval_ndcg@10": v, "eval_zeroshot_ndcg@10": 0.72, "eval_zeroshot_extra": 0.1}
            for s, v in ((0, 0.5), (11, 0.7), (22, 0.76))]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    drawn = {}
    monkeypatch.setattr(plots, "_plot", lambda path, title, lines: drawn.setdefault(path.name, lines))
    plots.report(tmp_path)
    assert set(drawn) == {"eval_ndcg@10.png", "eval_zeroshot_extra.png"}
    assert drawn["eval_ndcg@10.png"]["eval_zeroshot_ndcg@10"] == [(0, 0.72), (11, 0.72), (22, 0.72)]
    assert [v for _, v in drawn["eval_ndcg@10.png"]["eval_ndcg@10"]] == [0.5, 0.7, 0.76]


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert main(["eval", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "metrics.jsonl" in err[0] and "Traceback" not in "".join(err)


@pytest.mark.heavy
def test_preview_from_the_light_core(tiny_qwen2, tmp_path, mgt_light):
    """The light core has no transformers: `mgt data preview` re-runs itself in the train env."""
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"instruction": "Say hi", "output": "hi there"}) + "\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"task: sft\nmodel: {{name_or_path: {tiny_qwen2}}}\ndata: {{train: [{data}]}}\n"
                   f"train: {{output_dir: {tmp_path / 'out'}}}\n")
    proc = mgt_light("data", "preview", cfg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "running in the train env" in proc.stderr  # it did re-run itself
    assert "hi there" in proc.stdout and "1 rows" in proc.stdout
