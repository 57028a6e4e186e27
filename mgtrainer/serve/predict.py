"""`mgtrainer predict OUTPUT_DIR --input F --output F`: batch inference, the same rows plus predictions.

The trained task (the manifest's) says what each row becomes (task.request), which engine call runs
(task.call) and which columns come back (task.response): e.g. `prediction` (generated text, label(s),
score or vector) and, for classifiers, `probabilities`. See each task module for the columns it reads.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mgtrainer import manifest as mf
from mgtrainer import tasks
from mgtrainer.serve.rows import Row, read_rows, write_rows


def requests(task, manifest, tok, rows: list[Row]) -> list:
    """What the engine gets for these rows: one request per row (prompt ids, a text, a pair); rows for a
    model with a modality are read as media chat records first (mgtrainer/serve/media_rows.py)."""
    if manifest.modality:
        from mgtrainer.serve.media_rows import row_record

        return [task.request(row_record(row), manifest, tok) for row in rows]
    return [task.request(row, manifest, tok) for row in rows]


def predict(path: str | Path, input_path: str | Path, output_path: str | Path, engine: str = "vllm",
            max_new_tokens: int = 128, batch_size: int = 16, progress: bool = True) -> dict:
    """Read input rows, run the engine, write rows + predictions atomically; returns timing stats."""
    from mgtrainer.errors import MgtError
    from mgtrainer.serve import engines

    if Path(output_path).resolve() == Path(input_path).resolve():
        raise MgtError(f"{output_path}:1: output is the input file; expected a new path (inputs are never overwritten)")
    manifest, rows = mf.read(path), read_rows(input_path)
    task = tasks.get(manifest.task)
    eng = engines.make(engine, path, batch_size=batch_size, progress=progress)
    inputs = requests(task, manifest, eng.tokenizer, rows)
    started = time.perf_counter()
    outputs = task.call(eng, inputs, max_new_tokens) if rows else []
    seconds = time.perf_counter() - started
    out_rows = [dict(row) | task.response(o, manifest, eng.tokenizer) for row, o in zip(rows, outputs)]
    write_rows(output_path, out_rows)
    stats = {"rows": len(rows), "seconds": seconds, "engine": engine}
    if manifest.modality:  # speech lists: WER/CER against the reference transcripts, when given
        from mgtrainer.serve.media_rows import error_rates

        if (rates := error_rates(out_rows)) is not None:
            stats.update(rates)
            print(f"mgtrainer: WER {rates['wer']:.4f}, CER {rates['cer']:.4f} against the reference", file=sys.stderr)
    if task.SERVE.runner == "generate":
        stats["generated_tokens"] = sum(len(o) for o in outputs)
    print(f"mgtrainer: {len(rows)} rows -> {output_path} ({engine}, {seconds:.1f} s)", file=sys.stderr)
    return stats
