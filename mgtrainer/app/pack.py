"""`mgtrainer data pack CFG -o DIR [--num-proc N]`: tokenise (the task's own encode, loss masks included)
once, in N processes, into Arrow shards with a fingerprint; `data.packed: DIR` then trains from them
(mgtrainer/driver/packed.py). Rows keep the order the raw data encodes to, so a run from the cache sees
exactly the batches a run from the raw files sees; each row's length is stored for length grouping.

Memory is flat in the corpus: no process holds the corpus. Every worker streams the records itself
(the data layer's `iter_splits`, parsing is cheap next to tokenising), numbers them into shards of
`shard_rows` per split, and encodes only its own shards (shard index % N == worker), BATCH records at a
time, appending each batch to the shard's Arrow file (`datasets` ArrowWriter). A task config with
`packing` (pt) encodes a whole shard at once, so its blocks run on across the shard's documents.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from mgtrainer import tasks
from mgtrainer.app.runs import load_run
from mgtrainer.errors import MgtError
from mgtrainer.faults import machine_fault

SHARD_ROWS = 50_000
BATCH = 1_000  # records encoded and appended to a shard at a time
_job: dict = {}  # what forked workers inherit: cfg, task, tok, folder, shard_rows, workers


class _Shard:
    """One shard being written: its records waiting to be encoded, its Arrow writer, its counts."""

    def __init__(self, split: str, index: int, batch: int):
        self.split, self.index, self.batch = split, index, batch
        self.name = f"{split}/shard-{index:05d}.arrow"
        self.waiting, self.writer = [], None
        self.rows = self.truncated = self.dropped = 0

    def add(self, record) -> None:
        self.waiting.append(record)
        if len(self.waiting) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.waiting:
            return
        enc = _job["task"].encode(_job["cfg"], _job["tok"], self.waiting)
        self.waiting = []
        self.truncated += enc.truncated
        self.dropped += len(enc.dropped)
        if not enc.rows:
            return
        if self.writer is None:
            from datasets.arrow_writer import ArrowWriter

            (_job["folder"] / self.split).mkdir(exist_ok=True)
            self.writer = ArrowWriter(path=str(_job["folder"] / self.name))
        batch = {key: [r[key] for r in enc.rows] for key in enc.rows[0]}
        batch["length"] = [len(ids) for ids in batch["input_ids"]]
        self.writer.write_batch(batch)
        self.rows += len(enc.rows)

    def close(self) -> dict:
        self.flush()
        if self.writer is not None:
            self.writer.finalize()
            self.writer.close()
        return {"split": self.split, "index": self.index, "name": self.name, "rows": self.rows,
                "truncated": self.truncated, "dropped": self.dropped}


def _worker(me: int) -> dict:
    """Stream every record, encode and write the shards numbered me, me + N, ... (in a worker)."""
    from mgtrainer.data import iter_splits

    cfg, size, workers = _job["cfg"], _job["shard_rows"], _job["workers"]
    batch = size if getattr(cfg.task, "packing", False) else min(BATCH, size)
    rejected: list = []
    seen = {"train": 0, "eval": 0}
    open_: dict[str, _Shard | None] = {"train": None, "eval": None}
    done = []
    for split, record in iter_splits(cfg.data, _job["task"].RECORD, rejected):
        index, seen[split] = seen[split] // size, seen[split] + 1
        if index % workers != me:
            continue
        shard = open_[split]
        if shard is None or shard.index != index:
            if shard is not None:
                done.append(shard.close())
            shard = open_[split] = _Shard(split, index, batch)
        shard.add(record)
    done += [s.close() for s in open_.values() if s is not None]
    return {"shards": done, "rejected": rejected if me == 0 else [], "records": seen}


def pack(config, overrides, out, num_proc: int = 1, shard_rows: int = SHARD_ROWS) -> dict:
    """Write the cache (into DIR.partial, then renamed to DIR); returns its meta (fingerprint, shards,
    counts, seconds)."""
    from mgtrainer.data.loaders import report_rejected
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
    if shard_rows < 1 or num_proc < 1:
        raise MgtError(f"--shard-rows {shard_rows} / --num-proc {num_proc}; expected both at least 1")
    tok, _ = task.tokenizer(cfg, cfg.model)
    out = Path(out)
    part = out.with_name(out.name + ".partial")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    _job.update(cfg=cfg, task=task, tok=tok, folder=part, shard_rows=shard_rows, workers=num_proc)
    results = _written(part, out, lambda: _run(num_proc))
    shards = sorted((s for r in results for s in r["shards"] if s["rows"]), key=lambda s: (s["split"], s["index"]))
    records = results[0]["records"]
    report_rejected(results[0]["rejected"], records["train"] + records["eval"])
    rows = {s: sum(x["rows"] for x in shards if x["split"] == s) for s in ("train", "eval")}
    if not rows["train"]:
        shutil.rmtree(part)
        raise MgtError(f"no usable training rows in {', '.join(map(str, cfg.data.train))} (data.train); "
                       "expected rows with something to train on")
    meta = {"fingerprint": packed.fingerprint(cfg, tok),
            "shards": {s: [x["name"] for x in shards if x["split"] == s] for s in ("train", "eval")},
            "shard_rows": {x["name"]: x["rows"] for x in shards}, "rows": rows,
            "truncated": sum(x["truncated"] for x in shards), "dropped": sum(x["dropped"] for x in shards),
            "num_proc": num_proc, "seconds": round(time.perf_counter() - t0, 2)}
    packed.write_meta(part, meta)
    if out.exists():
        shutil.rmtree(out)
    os.replace(part, out)
    print(f"packed {rows['train']} train + {rows['eval']} eval rows into {len(shards)} shards in {out} "
          f"({meta['seconds']} s, {num_proc} processes)", file=sys.stderr)
    return meta


def _written(part: Path, out: Path, write):
    """write() into part; if it fails, part goes (the previous cache at out stays as it was), and a full disk or an
    unwritable folder is one line naming out and the free space it found."""
    try:
        return write()
    except BaseException as err:
        line = machine_fault(err, out) if isinstance(err, Exception) else None
        shutil.rmtree(part, ignore_errors=True)
        if line is None:
            raise
        raise MgtError(line) from err


def _run(num_proc: int) -> list[dict]:
    if num_proc <= 1:
        return [_worker(0)]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(num_proc) as pool:  # workers inherit _job
        return pool.map(_worker, range(num_proc), chunksize=1)
