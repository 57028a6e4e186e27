"""The pre-tokenised cache `mgtrainer data pack` writes and `data.packed: DIR` trains from.

    DIR/mgtrainer-pack.json        the fingerprint (task, tokenizer files, chat template, cutoff_len, data
                                   files, split settings), the shard list and each shard's row count
    DIR/<split>/shard-NNNNN.arrow  one Arrow file per shard (datasets' ArrowWriter), rows in the order the
                                   raw data encodes to, so training from the cache sees the same batches;
                                   a `length` column holds each row's token count

Reading memory-maps the shards (datasets.Dataset.from_file), so resident memory does not grow with the
corpus. Under a multi-process launch each rank opens only its own train shards (every W-th one). A cache
whose fingerprint differs from the config is refused, naming what differs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mgtrainer.driver.rundir import file_fingerprint
from mgtrainer.errors import MgtError

META = "mgtrainer-pack.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "chat_template.json", "tokenizer.model", "vocab.json", "merges.txt")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(cfg, tok) -> dict:
    """What makes the cache's rows what they are; everything a stale cache could differ in."""
    model = Path(cfg.model.name_or_path)
    files = {}
    for name in TOKENIZER_FILES:
        if (model / name).is_file():
            files[name] = hashlib.sha256((model / name).read_bytes()).hexdigest()
    data = {}
    for name in [*cfg.data.train, *cfg.data.eval]:
        p = Path(name)
        data[name] = {k: v for k, v in file_fingerprint(p).items() if k != "mtime"} if p.is_file() else {"name": name}
    d = cfg.data
    return {"task": cfg.task.model_dump(mode="json"), "tokenizer_files": files or {"name": str(model)},
            "chat_template": _sha(tok.chat_template or ""), "template": cfg.model.template,
            "cutoff_len": d.cutoff_len, "data": data,
            "split": {"format": d.format, "mix": d.mix, "val_size": d.val_size, "max_samples": d.max_samples,
                      "seed": d.seed}}


def differences(old: dict, new: dict) -> list[str]:
    keys = sorted(set(old) | set(new))
    out = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if a != b:
            sub = sorted(x for x in set(a or {}) | set(b or {}) if (a or {}).get(x) != (b or {}).get(x)) \
                if isinstance(a, dict) and isinstance(b, dict) else []
            out.append(f"{k} ({', '.join(sub)})" if sub and k != "task" else k)
    return out


def write_meta(out: Path, meta: dict) -> None:
    from mgtrainer import atomic

    atomic.write_text(out / META, json.dumps(meta, indent=1) + "\n")


def read_meta(folder) -> dict:
    path = Path(folder) / META
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MgtError(f"{path}: no packed cache here (data.packed); expected a folder written by "
                       "`mgtrainer data pack CFG -o DIR`") from None
    except ValueError:
        raise MgtError(f"{path}:1: unreadable cache fingerprint (data.packed); expected `mgtrainer data pack` "
                       "to write it again") from None


def load(cfg, tok):
    """(train rows, eval rows) of the cache at cfg.data.packed, memory-mapped; refused when stale. Under a
    launch of W > 1 processes with at least W train shards, rank r opens only shards r, r + W, ...
    (RankRows, capped at the smallest rank's row count so every rank takes the same number of steps)."""
    import os

    folder = Path(cfg.data.packed)
    meta = read_meta(folder)
    diff = differences(meta.get("fingerprint", {}), fingerprint(cfg, tok))
    if diff:
        raise MgtError(f"{folder / META}:1: the packed cache is stale: it differs from this config in "
                       f"{'; '.join(diff)} (data.packed); expected `mgtrainer data pack` run again with this config")
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    names = meta["shards"].get("train", [])
    if world > 1 and len(names) >= world and "shard_rows" in meta and not cfg.train.max_tokens_per_batch:
        return _rank_rows(folder, meta, rank, world), _open(folder, meta["shards"].get("eval", []))
    return _open(folder, names), _open(folder, meta["shards"].get("eval", []))


def _open(folder: Path, names: list[str]):
    """The shards as one memory-mapped dataset ([] for none)."""
    from datasets import Dataset, concatenate_datasets, load_from_disk

    if not names:
        return []
    shards = [Dataset.from_file(str(folder / n)) if n.endswith(".arrow") else load_from_disk(str(folder / n))
              for n in names]
    ds = concatenate_datasets(shards) if len(shards) > 1 else shards[0]
    return ds.remove_columns("length")


class RankRows:
    """This rank's own train rows: the Trainer iterates them as they are (driver/trainer.py), without
    sharding them across ranks again."""

    rank_local = True

    def __init__(self, rows):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def _rank_rows(folder: Path, meta: dict, rank: int, world: int) -> RankRows:
    import sys

    names = meta["shards"]["train"]
    mine = names[rank::world]
    counts = meta["shard_rows"]
    cap = min(sum(counts[n] for n in names[r::world]) for r in range(world))
    rows = _open(folder, mine)
    files = ", ".join(Path(f["filename"]).name for f in rows.cache_files)  # what this rank memory-maps
    if len(rows) > cap:
        rows = rows.select(range(cap))
    print(f"rank {rank} of {world}: train rows from {len(mine)} of {len(names)} shards ({files}), "
          f"{len(rows)} rows (the smallest rank's count)", file=sys.stderr)
    return RankRows(rows)
