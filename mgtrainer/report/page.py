"""report.html: one self-contained page (inline SVG and CSS, no scripts, no network) for one or more runs,
rendered by jinja2 from templates/report.html.j2 and written atomically."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import yaml

from mgtrainer import atomic
from mgtrainer.report import charts
from mgtrainer.report.runs import TIMING, Run, load_runs
from mgtrainer.report.samples import evolution, sample_rows

TEMPLATES = Path(__file__).parent / "templates"
LOWER_IS_BETTER = ("loss", "perplexity")


def metric_order(names) -> list[str]:
    """Train loss beside eval loss, perplexity beside eval perplexity, the other eval metrics, then the rest
    (learning rate, grad norm): the page lays panels out two by two."""
    first = ["loss", "eval_loss", "perplexity", "eval_perplexity"]

    def key(name: str):
        if name in first:
            return (0, first.index(name), name)
        return (1 if name.startswith("eval_") else 2, 0, name)

    return sorted(set(names), key=key)


def _story(series: dict[str, list[tuple[int, float]]]) -> list[dict]:
    """Per eval metric: value at the baseline (step 0), best (and its step), final."""
    rows = []
    for name in metric_order(series):
        pts = series[name]
        if not name.startswith("eval_") or not pts:
            continue
        lower = any(word in name for word in LOWER_IS_BETTER)
        best = (min if lower else max)(pts, key=lambda p: p[1])
        base = next((v for s, v in pts if s == 0), None)
        rows.append({"metric": name, "baseline": base, "best": best[1], "best_step": best[0],
                     "final": pts[-1][1], "final_step": pts[-1][0], "lower_is_better": lower})
    return rows


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def _progress(run: Run) -> dict:
    timing, info = run.timing(), run.info
    finished = "train_runtime" in timing
    wall = timing.get("train_runtime")
    metrics = run.path / "metrics.jsonl"
    if wall is None and info.get("started") and metrics.is_file():
        wall = metrics.stat().st_mtime - info["started"]
    evals = [r["eval_runtime"] for r in run.rows if isinstance(r.get("eval_runtime"), (int, float))]
    eval_steps = {r.get("step") for r in run.rows if any(k.startswith("eval_") and not TIMING.search(k) for k in r)}
    return {"finished": finished, "step": run.last_step, "max_steps": info.get("max_steps") or run.state.get("max_steps"),
            "wall": _duration(wall), "samples_per_s": timing.get("train_samples_per_second"),
            "steps_per_s": timing.get("train_steps_per_second"),
            "s_per_step": wall / run.last_step if wall and run.last_step else None,
            "evals": len(eval_steps), "eval_s": sum(evals) / len(evals) if evals else None}


def _flatten(data, prefix: str = "") -> dict[str, object]:
    if isinstance(data, dict):
        out: dict[str, object] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: data}


def _config_differences(runs: list[Run]) -> list[dict]:
    flat = [_flatten(r.info.get("config") or {}) for r in runs]
    keys = sorted(set().union(*flat)) if flat else []
    return [{"key": k, "values": [f.get(k) for f in flat]} for k in keys
            if len({repr(f.get(k)) for f in flat}) > 1 and not k.endswith("output_dir")]


def _details(run: Run) -> dict | None:
    if not run.details:
        return None
    step = max(run.details)
    d = run.details[step]
    matrix = d.get("confusion_matrix")
    top = max((max(r) for r in matrix), default=0) if matrix else 0
    return {"step": step, "labels": d.get("labels", []), "per_class": d.get("per_class", {}),
            "matrix": matrix, "top": top or 1, "baseline_step": 0 if 0 in run.details and step != 0 else None}


def _preview(run: Run) -> list[dict]:
    """The preview rows, classify label ids shown as label names (from the eval details or the config)."""
    names = (run.details[max(run.details)].get("labels") if run.details else None) \
        or (((run.info.get("config") or {}).get("task") or {}).get("labels"))
    rows = run.info.get("preview") or []
    if not names:
        return rows
    out = []
    for row in rows:
        label = row.get("label")
        if isinstance(label, int) and 0 <= label < len(names):
            label = names[label]
        elif isinstance(label, list) and len(label) == len(names):  # multi-label: a 0/1 vector
            label = ", ".join(n for n, v in zip(names, label) if v)
        out.append({**row, "label": label})
    return out


TRACKERS = (("tensorboard", "runs", "TensorBoard event files (tensorboard --logdir {path})"),
            ("wandb", "wandb", "wandb run files, offline unless WANDB_MODE said otherwise "
                               "(wandb sync {path}/offline-run-*)"),
            ("mlflow", "mlruns", "mlflow file store (MLFLOW_TRACKING_URI={uri})"))


def _trackers(run: Run) -> list[dict]:
    """The trackers' own folders in the run folder (train.report_to), each with how to open it."""
    out = []
    for name, folder, how in TRACKERS:
        path = Path(run.path) / folder
        if path.is_dir():
            uri = path.resolve().as_uri()
            out.append({"name": name, "href": uri, "path": str(path), "how": how.format(path=path, uri=uri)})
    return out


def context(runs: list[Run]) -> dict:
    ids = {r.name: f"run{i}" for i, r in enumerate(runs)}
    colors = {r.name: charts.color(i) for i, r in enumerate(runs)}
    all_series = {r.name: r.series() for r in runs}
    planned = [r.info.get("max_steps") or 0 for r in runs]
    x_max = max([r.last_step for r in runs] + [p for p in planned if p > 0] + [1])
    chart_list = []
    for i, metric in enumerate(metric_order(m for s in all_series.values() for m in s)):
        lines = [(ids[r.name], colors[r.name], all_series[r.name][metric]) for r in runs if metric in all_series[r.name]]
        chart_list.append({"metric": metric, "svg": charts.metric_chart(metric, lines, x_max, i),
                           "runs": [rid for rid, _, _ in lines],
                           "baseline": metric.startswith("eval_") and any(p and p[0][0] == 0 for _, _, p in lines)})
    run_views = []
    for i, run in enumerate(runs):
        step, rows = sample_rows(run.samples)
        lengths = run.info.get("lengths") or []
        cfg = run.info.get("config")
        run_views.append({
            "id": ids[run.name], "name": run.name, "path": str(run.path), "color": colors[run.name],
            "task": run.info.get("task") or (cfg or {}).get("task", {}).get("name", "?"),
            "model": ((cfg or {}).get("model") or {}).get("name_or_path", "?"),
            "progress": _progress(run), "story": _story(all_series[run.name]),
            "config": yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True) if cfg else None,
            "versions": run.info.get("versions") or {}, "preview": _preview(run), "trackers": _trackers(run),
            "histogram": charts.length_histogram(lengths, i) if lengths else None,
            "lengths": run.info.get("length_stats") or ({"n": len(lengths), "min": min(lengths),
                                                           "max": max(lengths), "mean": sum(lengths) / len(lengths)}
                                                          if lengths else None),
            "samples_step": step, "samples": rows, "details": _details(run),
            "evolution": dict(zip(("steps", "rows"), evolution(run.samples))),
        })
    return {"runs": run_views, "charts": chart_list, "differences": _config_differences(runs) if len(runs) > 1 else [],
            "generated": dt.datetime.fromtimestamp(time.time(), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}


def render(runs: list[Run]) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env.get_template("report.html.j2").render(**context(runs))


def _num(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def write_report(paths, out, required: bool = True) -> Path:
    """Render the runs in `paths` into `out` (atomically); returns out."""
    return atomic.write_text(out, render(load_runs(paths, required)))
