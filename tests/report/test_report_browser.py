"""The report of real short runs, opened in headless Chromium: the page's DOM shows every logged metric
(with the step-0 baseline), the eval samples, two runs overlaid; a screenshot is taken.

Set MGT_REPORT_SHOTS=/some/dir to keep the screenshots (and the pages) for a look."""

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from mgtrainer.app.runs import train
from mgtrainer.cli import main
from mgtrainer.report.runs import NOT_METRICS, TIMING

pytestmark = pytest.mark.heavy
INTENTS = Path(__file__).resolve().parents[2] / "script" / "examples" / "classify" / "data"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def chromium(page: Path, shot: Path) -> str:
    """The DOM Chromium builds from `page` (and a 1280x2400 screenshot of it in `shot`)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.fail("chromium not found: script/test.sh installs it (apt-get install chromium)", pytrace=False)
    with tempfile.TemporaryDirectory() as profile:
        base = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
        assert dom.returncode == 0 and "</html>" in dom.stdout, dom.stderr[-2000:]
        subprocess.run([*base, f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()],
                       capture_output=True, text=True, timeout=180)
    assert shot.is_file() and shot.stat().st_size > 10_000, f"no screenshot at {shot}"
    keep = os.environ.get("MGT_REPORT_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
        shutil.copy(page, Path(keep) / f"{shot.stem}.html")
    return dom.stdout


def plotted_metrics(run_dir: Path) -> set[str]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {k for r in rows for k, v in r.items()
            if k not in NOT_METRICS and not TIMING.search(k) and isinstance(v, (int, float))}


def charts(dom: str) -> dict[str, dict]:
    """metric -> {"runs": [...], "baseline": bool, "svg": the chart's markup} from the DOM's figures."""
    out = {}
    for m in re.finditer(r'<figure class="chart"[^>]*data-metric="([^"]+)" data-runs="([^"]*)" '
                         r'data-baseline="(true|false)">(.*?)</figure>', dom, re.S):
        out[m.group(1)] = {"runs": m.group(2).split(), "baseline": m.group(3) == "true", "svg": m.group(4)}
    return out


def test_two_sft_runs_in_chromium(tiny_qwen2, make_cfg, shared_data, tmp_path):
    gsm = shared_data / "microsoft-foundry"
    runs = []
    for name, lr in (("lr-1e-3", 1e-3), ("lr-5e-3", 5e-3)):
        cfg = make_cfg("sft", tiny_qwen2, [gsm / "gsm8k_chat_train.jsonl"], [gsm / "gsm8k_chat_validation.jsonl"],
                       data={"max_samples": 16, "cutoff_len": 256},
                       train={"output_dir": str(tmp_path / name), "max_steps": 4, "learning_rate": lr,
                              "eval_strategy": "steps", "eval_steps": 2, "preview_samples": 2},
                       eval={"generation_samples": 4, "max_new_tokens": 12})
        train(cfg)
        runs.append(Path(cfg.train.output_dir))
    a = runs[0]
    rows = [json.loads(line) for line in (a / "metrics.jsonl").read_text().splitlines()]
    assert {"eval_loss", "eval_rouge-l", "eval_bleu-4"} <= {k for r in rows if r["step"] == 0 for k in r}
    assert sorted(int(p.stem[5:]) for p in (a / "eval_samples").glob("step-*.jsonl")) == [0, 2, 4]
    assert (a / "report.html").is_file()  # written by the run itself
    assert (a / "plots" / "loss.png").is_file()

    page = tmp_path / "compare.html"
    assert main(["report", str(runs[0]), str(runs[1]), "-o", str(page)]) == 0
    html = page.read_text()
    assert not re.search(r'<script|<link|(src|href)="(https?:)?//|url\((https?:)?//', html)  # nothing fetched
    dom = chromium(page, tmp_path / "report-sft.png")

    found = charts(dom)
    expected = plotted_metrics(runs[0]) | plotted_metrics(runs[1])
    assert expected <= set(found), f"not plotted: {expected - set(found)}"
    for metric in expected:
        for rid in found[metric]["runs"]:
            assert f'id="line--{rid}--{metric}"' in found[metric]["svg"], (metric, rid)
        if metric.startswith("eval_"):  # every eval metric has its step-0 baseline marked, in both runs
            assert found[metric]["baseline"], metric
            assert all(f'id="baseline--{rid}--{metric}"' in found[metric]["svg"] for rid in ("run0", "run1"))
    assert found["loss"]["runs"] == ["run0", "run1"]  # two runs overlay on one axis
    samples = re.findall(r'<tr class="sample (best|worst)">', dom)
    assert len(samples) == 8 and {"best", "worst"} <= set(samples)
    assert "<ins>" in dom or "<del>" in dom
    assert 'class="trained"' in dom and 'class="histogram"' in dom
    assert "learning_rate" in re.search(r'<section id="differences">(.*?)</section>', dom, re.S).group(1)
    assert "transformers" in dom and "wall time" in dom


def test_classify_run_in_chromium(minilm, make_cfg, tmp_path):
    cfg = make_cfg("classify", minilm, [INTENTS / "intents_train.jsonl"], [INTENTS / "intents_eval.jsonl"],
                   train={"max_steps": 6, "eval_strategy": "steps", "eval_steps": 3, "learning_rate": 2e-4})
    train(cfg)
    out = Path(cfg.train.output_dir)
    assert sorted(int(p.stem[5:]) for p in (out / "eval_details").glob("step-*.json")) == [0, 3, 6]
    dom = chromium(out / "report.html", tmp_path / "report-classify.png")  # the run's own report
    found = charts(dom)
    assert plotted_metrics(out) <= set(found)
    assert found["eval_accuracy"]["baseline"] and found["eval_macro_f1"]["baseline"]
    labels = json.loads((out / "eval_details" / "step-6.json").read_text())["labels"]
    matrix = re.search(r'<table class="cm"[^>]*>(.*?)</table>', dom, re.S).group(1)
    assert all(f"<th>{label}</th>" in matrix for label in labels)
