"""The grpo recipes' reward table: a window's mean over the steps that logged a value; none logged -> "-"."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "script" / "examples" / "grpo" / "reward_table.py"


def _module():
    spec = importlib.util.spec_from_file_location("reward_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_kl_is_a_dash_and_means_skip_unlogged_steps(tmp_path):
    rows = [{"step": 1, "reward": 0.2, "reward_std": 0.1, "rewards/exact/mean": 0.0},  # beta 0: no kl logged
            {"step": 2, "reward": 0.4, "reward_std": 0.3, "rewards/exact/mean": 0.5},
            {"step": 3, "reward": 0.9, "reward_std": 0.0, "rewards/exact/mean": 1.0, "kl": 0.02},
            {"step": 3, "eval_loss": 1.0}]  # not a reward row
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = _module().table(tmp_path, every=2).splitlines()
    assert lines[0] == "| steps | reward | reward_std | rewards/exact/mean | kl |"
    assert lines[2] == "| 1-2 | 0.3000 | 0.2000 | 0.2500 | - |"
    assert lines[3] == "| 3-3 | 0.9000 | 0.0000 | 1.0000 | 0.0200 |"
