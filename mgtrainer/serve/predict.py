"""`mgtrainer predict OUTPUT_DIR --input F --output F`: batch inference, the same rows plus predictions.

Added columns: `prediction` (sft/pt: the generated text; classify: the label, or the list of labels at
or above 0.5 when multi-label; rm/rerank: the raw score; embed: the vector) and, for classify,
`probabilities` ({label: probability}). See mgtrainer.serve.rows for the columns each task reads.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mgtrainer import manifest as mf
from mgtrainer.serve import rows as R


def task_inputs(manifest, tok, rows: list[R.Row]):
    """What the engine gets for these rows: prompt token ids, texts, or (queries, passages)."""
    task = manifest.task
    if task == "sft":
        return [chat_ids(tok, R.chat_prompt(r)) for r in rows]
    if task == "pt":
        return [tok(R.first(r, ("text", "prompt"), "text")).input_ids for r in rows]
    if task == "classify":
        return [R.first(r, R.TEXT_KEYS, "text") for r in rows]
    if task == "rm":
        return [R.reward_text(r, tok) for r in rows]
    if task == "embed":
        return [R.embed_text(r, manifest) for r in rows]
    pairs = [R.rerank_pair(r) for r in rows]
    return [q for q, _ in pairs], [p for _, p in pairs]


def chat_ids(tok, messages: list[dict]) -> list[int]:
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tok(text, add_special_tokens=False).input_ids


def run_engine(engine, manifest, inputs, max_new_tokens: int) -> list:
    """Raw outputs per row: generated ids, probabilities, scores or vectors."""
    task = manifest.task
    if task in ("sft", "pt"):
        return engine.generate(inputs, max_new_tokens)
    if task == "classify":
        return engine.classify(inputs)
    if task == "rm":
        return engine.score(inputs)
    if task == "embed":
        return engine.embed(inputs)
    return engine.score(*inputs)


def columns(manifest, tok, output) -> dict:
    """The prediction columns for one row's raw output."""
    if manifest.task in ("sft", "pt"):
        return {"prediction": tok.decode(output, skip_special_tokens=True)}
    if manifest.task == "classify":
        labels = manifest.labels or [str(i) for i in range(len(output))]
        probs = {label: round(float(p), 6) for label, p in zip(labels, output)}
        if manifest.multi_label:
            return {"prediction": [lab for lab, p in probs.items() if p >= 0.5], "probabilities": probs}
        return {"prediction": max(probs, key=probs.get), "probabilities": probs}
    if manifest.task == "embed":
        return {"prediction": [float(x) for x in output]}
    return {"prediction": float(output)}


def predict(path: str | Path, input_path: str | Path, output_path: str | Path, engine: str = "vllm",
            max_new_tokens: int = 128, batch_size: int = 16, progress: bool = True) -> dict:
    """Read input rows, run the engine, write rows + predictions atomically; returns timing stats."""
    from mgtrainer.errors import MgtError
    from mgtrainer.serve import engines

    if Path(output_path).resolve() == Path(input_path).resolve():
        raise MgtError(f"{output_path}:1: output is the input file; expected a new path (inputs are never overwritten)")
    manifest, rows = mf.read(path), R.read_rows(input_path)
    eng = engines.make(engine, path, batch_size=batch_size, progress=progress)
    inputs = task_inputs(manifest, eng.tokenizer, rows)
    started = time.perf_counter()
    outputs = run_engine(eng, manifest, inputs, max_new_tokens) if rows else []
    seconds = time.perf_counter() - started
    out_rows = [dict(row) | columns(manifest, eng.tokenizer, o) for row, o in zip(rows, outputs)]
    R.write_rows(output_path, out_rows)
    stats = {"rows": len(rows), "seconds": seconds, "engine": engine}
    if manifest.task in ("sft", "pt"):
        stats["generated_tokens"] = sum(len(o) for o in outputs)
    print(f"mgtrainer: {len(rows)} rows -> {output_path} ({engine}, {seconds:.1f} s)", file=sys.stderr)
    return stats
