"""A run folder as the report sees it: metrics.jsonl rows, run_info.json, per-eval sample and detail files,
trainer_state.json. Standard library only (no torch, no matplotlib)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from mgtrainer.errors import MgtError
from mgtrainer.report import runinfo
from mgtrainer.report.plots import read_jsonl
from mgtrainer.stepfiles import DETAILS, SAMPLES, step_files

# Logged once per eval or at the end, about time rather than quality: shown in the summary, not plotted.
TIMING = re.compile(r"(_runtime|_per_second|^total_flos|^train_loss|_model_preparation_time)$")
NOT_METRICS = {"step", "epoch"}


@dataclass
class Run:
    path: Path
    name: str
    rows: list[dict]
    info: dict = field(default_factory=dict)
    samples: dict[int, list[dict]] = field(default_factory=dict)  # eval step -> generated samples
    details: dict[int, dict] = field(default_factory=dict)        # eval step -> per-class report etc.
    state: dict = field(default_factory=dict)                      # the newest checkpoint's trainer_state.json

    def series(self) -> dict[str, list[tuple[int, float]]]:
        """metric -> [(step, value)] for every plotted metric (numbers only; timing counters left out)."""
        out: dict[str, list[tuple[int, float]]] = {}
        for row in self.rows:
            for key, value in row.items():
                if key in NOT_METRICS or TIMING.search(key) or isinstance(value, bool) \
                        or not isinstance(value, (int, float)):
                    continue
                out.setdefault(key, []).append((int(row.get("step", 0)), float(value)))
        return out

    def timing(self) -> dict[str, float]:
        """The last value of each timing counter (train_runtime, train_samples_per_second, ...)."""
        out: dict[str, float] = {}
        for row in self.rows:
            for key, value in row.items():
                if TIMING.search(key) and isinstance(value, (int, float)):
                    out[key] = float(value)
        return out

    @property
    def last_step(self) -> int:
        return max((int(r.get("step", 0)) for r in self.rows), default=0)


def _trainer_state(path: Path) -> dict:
    checkpoints = sorted(path.glob("checkpoint-*/trainer_state.json"),
                         key=lambda p: int(p.parent.name.split("-")[-1]) if p.parent.name.split("-")[-1].isdigit() else -1)
    return json.loads(checkpoints[-1].read_text()) if checkpoints else {}


def load_run(path, name: str | None = None, required: bool = True) -> Run:
    """The run in `path`; with required, a folder without metrics.jsonl is a user error."""
    path = Path(path)
    metrics = path / "metrics.jsonl"
    if required and not metrics.is_file():
        raise MgtError(f"{metrics}: not found; expected the metrics.jsonl a `mgtrainer train` run writes")
    rows = read_jsonl(metrics) if metrics.is_file() else []
    return Run(path=path, name=name or path.name, rows=rows, info=runinfo.read(path),
               samples={s: read_jsonl(p) for s, p in step_files(path, SAMPLES).items()},
               details={s: json.loads(p.read_text()) for s, p in step_files(path, DETAILS).items()},
               state=_trainer_state(path))


def load_runs(paths, required: bool = True) -> list[Run]:
    """Runs named by their folder (parent/folder when two folders share a name)."""
    paths = [Path(p) for p in paths]
    names = [p.resolve().name for p in paths]
    names = [f"{p.resolve().parent.name}/{n}" if names.count(n) > 1 else n for p, n in zip(paths, names)]
    return [load_run(p, n, required) for p, n in zip(paths, names)]
