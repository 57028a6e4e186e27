"""`mgtrainer data pack CFG -o DIR [--num-proc N]`: tokenise (the task's own encode, loss masks included)
once, in N processes, into Arrow shards with a fingerprint; `data.packed: DIR` then trains from them
(mgtrainer/driver/packed.py). Rows keep the order the raw data encodes to, so a run from the cache sees
exactly the batches a run from the raw files sees; each row's length is stored for length grouping."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from mgtrainer import tasks
from mgtrainer.app.runs import load_run
from mgtrainer.errors import MgtError

SHARD_ROWS = 50_000
_job: dict = {}  # what forked workers inherit: cfg, task, tok


def _encode_shard(item) -> tuple[str, int, int, int]:
    """(shard folder, rows, truncated, dropped) for one chunk of records (in a worker)."""
    from mgtrainer.driver.packed import write_shard

    folder, records = item
    enc = _job["task"].encode(_job["cfg"], _job["tok"], records)
    write_shard(Path(folder), enc.rows)
    return folder, len(enc.rows), enc.truncated, len(enc.dropped)


def pack(config, overrides, out, num_proc: int = 1, shard_rows: int = SHARD_ROWS) -> dict:
    """Write the cache; returns its meta (fingerprint, shards, counts, seconds)."""
    from mgtrainer.data import load_splits
    from mgtrainer.driver import packed

    t0 = time.perf_counter()
    cfg = load_run(config, overrides)
    task = tasks.get(cfg.task.name)
    if not (hasattr(task, "encode") and hasattr(task, "tokenizer")) or task.HEAD != "causal_lm":
        able = ", ".join(n for n in tasks.TASKS if tasks.get(n).HEAD == "causal_lm")
        raise MgtError(f"data pack packs causal-LM tasks ({able}), not task '{cfg.task.name}' (task); "
                       "expected one of those")
    if cfg.data.streaming or cfg.data.packed:
        raise MgtError("data pack reads the raw files (data.streaming / data.packed); expected both unset")
    splits = load_splits(cfg.data, task.RECORD)
    tok, _ = task.tokenizer(cfg, cfg.model)
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    _job.update(cfg=cfg, task=task, tok=tok)
    jobs = [(str(out / name / f"shard-{i // shard_rows:05d}"), records[i:i + shard_rows])
            for name, records in (("train", splits.train), ("eval", splits.eval))
            for i in range(0, len(records), shard_rows)]
    results = _run(jobs, num_proc)
    meta = {"fingerprint": packed.fingerprint(cfg, tok),
            "shards": {s: [str(Path(f).relative_to(out)) for f, *_ in results if Path(f).parent.name == s]
                       for s in ("train", "eval")},
            "rows": {s: sum(n for f, n, *_ in results if Path(f).parent.name == s) for s in ("train", "eval")},
            "truncated": sum(r[2] for r in results), "dropped": sum(r[3] for r in results),
            "num_proc": num_proc, "seconds": round(time.perf_counter() - t0, 2)}
    packed.write_meta(out, meta)
    print(f"packed {meta['rows']['train']} train + {meta['rows']['eval']} eval rows into "
          f"{len(results)} shards in {out} ({meta['seconds']} s, {num_proc} processes)", file=sys.stderr)
    return meta


def _run(jobs, num_proc: int):
    if num_proc <= 1 or len(jobs) <= 1:
        return [_encode_shard(j) for j in jobs]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(num_proc) as pool:  # workers inherit _job
        return pool.map(_encode_shard, jobs, chunksize=1)
