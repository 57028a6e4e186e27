"""Print a markdown table of a grpo run's rewards by step from OUTPUT_DIR/metrics.jsonl.

    python script/examples/grpo/reward_table.py outputs/grpo_rule [--every 10]

Each row averages the logged steps of one window (GRPO rewards are noisy per step): mean reward, its
spread within groups (reward_std), each reward function's mean, and the KL to the reference; a value no
logged step of the window has (kl when beta is 0: TRL logs none) prints as "-", not as 0.
"""

import argparse
import json
from pathlib import Path


def table(out: Path, every: int) -> str:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("reward") is not None]
    funcs = sorted({k for r in rows for k in r if k.startswith("rewards/") and k.endswith("/mean")})
    cols = ["reward", "reward_std", *funcs, "kl"]
    lines = ["| steps | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for start in range(0, len(rows), every):
        window = rows[start : start + every]
        lines.append(f"| {window[0]['step']}-{window[-1]['step']} | " + " | ".join(_mean(window, k) for k in cols) + " |")
    return "\n".join(lines)


def _mean(window: list[dict], key: str) -> str:
    """The mean over the steps that logged `key`, or "-" when none did."""
    got = [r[key] for r in window if r.get(key) is not None]
    return f"{sum(got) / len(got):.4f}" if got else "-"


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("output_dir", type=Path)
    p.add_argument("--every", type=int, default=10, help="steps per row (default 10)")
    a = p.parse_args()
    print(table(a.output_dir, a.every))
