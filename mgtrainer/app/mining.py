"""`mgtrainer data mine-negatives IN -o OUT --model M [--range 10-100] [--num 7]`: the app flow.

Reads IN as embed records (FlagEmbedding query/pos/neg rows, rerank rows split by label, ...), ranks the
corpus of all their passages (or --corpus FILE, one passage per line or a JSON "text" per line) with the
bi-encoder M, and writes OUT as FlagEmbedding jsonl rows {query, pos, neg, pos_scores, neg_scores[, prompt]}
whose `neg` are the mined negatives (mgtrainer.driver.mining) and whose scores are M's (100 x cosine:
teacher scores for embed's task.distill and rerank's targets: scores). Positives are kept as they are.
"""

from __future__ import annotations

import json
from pathlib import Path


def read_corpus(path: str) -> list[str]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line)["text"] if line.lstrip().startswith("{") else line)
    return out


def mine_file(src: str, out: str, model: str, span: str = "10-100", num: int = 7, corpus: str | None = None,
              max_length: int = 256, seed: int = 0, query_instruction: str = "") -> int:
    """Mine negatives for every query of `src` into `out`; returns the number of rows written."""
    from mgtrainer.atomic import write_text
    from mgtrainer.config.sections import ModelConfig
    from mgtrainer.data import iter_records
    from mgtrainer.driver.mining import mine, parse_range
    from mgtrainer.driver.model import load_model, load_tokenizer
    from mgtrainer.errors import MgtError
    from mgtrainer.tasks.embed import RECORD  # mined rows are the embed task's (query, pos, neg) rows

    try:
        lo, hi = parse_range(span)
    except ValueError as err:
        raise MgtError(f"--range: {err}") from None
    records = [r for r in iter_records(src, kind=RECORD) if r.pos]
    if not records:
        raise MgtError(f"{src}: no query with a positive passage; expected embed or rerank rows")
    passages = read_corpus(corpus) if corpus else [p for r in records for p in r.pos + (r.neg or [])]
    cfg = ModelConfig(name_or_path=model)
    tok = load_tokenizer(cfg, "encoder")
    enc = load_model(cfg, "encoder", tok)
    mined = mine(enc, tok, [r.query for r in records], [r.pos for r in records], passages, lo, hi, num,
                 max_length=max_length, seed=seed, query_instruction=query_instruction)
    negs = [m["neg"] for m in mined]
    rows = [{"query": r.query, "pos": r.pos, **m} | ({"prompt": r.prompt} if r.prompt else {})
            for r, m in zip(records, mined)]
    write_text(out, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    empty = sum(not n for n in negs)
    print(f"mine-negatives: {len(rows)} queries, {len(dict.fromkeys(passages))} corpus passages, ranks {lo}-{hi}, "
          f"{sum(map(len, negs)) / len(rows):.1f} negatives per query ({empty} with none) -> {out}")
    return len(rows)


def main(args) -> int:
    mine_file(args.input, args.output, args.model, args.range, args.num, args.corpus, args.max_length, args.seed,
              args.query_instruction or "")
    return 0
