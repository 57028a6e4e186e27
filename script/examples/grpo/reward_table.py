"""Print a markdown table of a grpo run's rewards by step from OUTPUT_DIR/metrics.jsonl.

    python script/examples/grpo/reward_table.py outputs/grpo_rule [--every 10]

Each row averages the logged steps of one window (GRPO rewards are noisy per step): mean reward, its
spread within groups (reward_std), each reward function's mean, and the KL to the reference.
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
        mean = lambda k: sum(r.get(k) or 0.0 for r in window) / len(window)  # noqa: E731
        lines.append(f"| {window[0]['step']}-{window[-1]['step']} | " + " | ".join(f"{mean(k):.4f}" for k in cols) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("output_dir", type=Path)
    p.add_argument("--every", type=int, default=10, help="steps per row (default 10)")
    a = p.parse_args()
    print(table(a.output_dir, a.every))
