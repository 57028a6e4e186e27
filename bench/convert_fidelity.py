"""What `data convert`'s fidelity check costs (mgtrainer/data/fidelity.py: each written row read back and
compared): 20,000 alpaca rows (../shared/data/llama-factory/alpaca_en_demo.json repeated) converted to sharegpt,
with the check and without it (the check replaced by one that finds nothing), interleaved, 3 rounds; CPU seconds
of the best round each.

    mgt env run dev -- python bench/convert_fidelity.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mgtrainer.data.convert as C  # noqa: E402

ROWS = 20_000


def main() -> None:
    shared = REPO.parent / "shared" / "data" / "llama-factory" / "alpaca_en_demo.json"
    rows = json.loads(shared.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "rows.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in (rows * (ROWS // len(rows) + 1))[:ROWS]))
        real, res = C.losses, {"with the check": [], "without": []}
        for _ in range(3):
            for side in res:
                C.losses = real if side == "with the check" else (lambda rec, row, to: [])
                cpu = time.process_time()
                C.convert(src, dst, "sharegpt", force=True)
                res[side].append(time.process_time() - cpu)
        C.losses = real
    print(f"| data convert, {ROWS} alpaca rows -> sharegpt | CPU s (best of 3) | rows / CPU s |\n|---|---|---|")
    for side, times in res.items():
        print(f"| {side} | {min(times):.2f} | {ROWS / min(times):,.0f} |")
    print(f"\nthe check costs {min(res['with the check']) / min(res['without']):.2f}x the convert CPU")


if __name__ == "__main__":
    main()
