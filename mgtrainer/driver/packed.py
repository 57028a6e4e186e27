"""The pre-tokenised cache `mgtrainer data pack` writes and `data.packed: DIR` trains from.

    DIR/mgtrainer-pack.json   the fingerprint (task, tokenizer files, chat template, cutoff_len, data
                              files, split settings) and the shard list
    DIR/<split>/shard-NNNNN/  one `datasets` Arrow folder per shard (save_to_disk), rows in the order the
                              raw data encodes to, so training from the cache sees the same batches; a
                              `length` column holds each row's token count for length-grouped batching

Reading memory-maps the shards (datasets.load_from_disk): each rank touches only the rows its sampler
hands it, and resident memory does not grow with the corpus. A cache whose fingerprint differs from the
config is refused, naming what differs.
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


def write_shard(folder: Path, rows: list[dict]) -> int:
    """rows -> one Arrow shard folder (with the length column); the row count."""
    from datasets import Dataset

    table = {key: [r[key] for r in rows] for key in (rows[0] if rows else {"input_ids": [], "labels": []})}
    table["length"] = [len(r["input_ids"]) for r in rows]
    Dataset.from_dict(table).save_to_disk(str(folder))
    return len(rows)


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
    """(train rows, eval rows) of the cache at cfg.data.packed, memory-mapped; refused when stale."""
    from datasets import concatenate_datasets, load_from_disk

    folder = Path(cfg.data.packed)
    meta = read_meta(folder)
    diff = differences(meta.get("fingerprint", {}), fingerprint(cfg, tok))
    if diff:
        raise MgtError(f"{folder / META}:1: the packed cache is stale: it differs from this config in "
                       f"{'; '.join(diff)} (data.packed); expected `mgtrainer data pack` run again with this config")

    def split(name):
        shards = [load_from_disk(str(folder / s)) for s in meta["shards"].get(name, [])]
        if not shards:
            return []
        ds = concatenate_datasets(shards) if len(shards) > 1 else shards[0]
        return ds.remove_columns("length")

    return split("train"), split("eval")
