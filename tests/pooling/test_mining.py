"""Hard-negative mining (FlagEmbedding hn_mine style) with the real MiniLM bi-encoder on WikiQA rows:
negatives come from the asked rank range only, never from the top ranks and never a positive."""

import json
from pathlib import Path

import pytest

WIKIQA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "wikiqa" / "wikiqa_dev_rerank.jsonl"


@pytest.fixture(scope="module")
def rows():
    from mgtrainer.data import iter_records

    return [r for r in iter_records(WIKIQA, kind="embed") if r.pos][:12]


def test_mined_negatives_skip_top_ranks_and_positives(minilm, rows):
    from transformers import AutoModel, AutoTokenizer

    from mgtrainer.driver.mining import mine_negatives
    from mgtrainer.driver.pooling import cosine_scores

    tok, model = AutoTokenizer.from_pretrained(minilm), AutoModel.from_pretrained(minilm)
    corpus = list(dict.fromkeys(p for r in rows for p in r.pos + r.neg))
    lo, hi, num = 3, 30, 5
    negs = mine_negatives(model, tok, [r.query for r in rows], [r.pos for r in rows], corpus, lo, hi, num,
                          max_length=96)
    for r, got in zip(rows, negs):
        cos = cosine_scores(model, tok, [r.query] * len(corpus), corpus, 96)
        ranked = [corpus[i] for i in sorted(range(len(corpus)), key=lambda i: -cos[i])]
        assert len(got) == num and len(set(got)) == num
        assert not set(got) & set(r.pos), "a positive was returned as a negative"
        assert not set(got) & set(ranked[:lo]), "a top-ranked passage (likely false negative) was returned"
        assert set(got) <= set(ranked[lo:hi])


def test_cli_writes_flagembedding_rows(minilm, rows, tmp_path):
    from mgtrainer.cli import main

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"query": r.query, "pos": r.pos, "neg": r.neg}) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    assert main(["data", "mine-negatives", str(src), "-o", str(out), "--model", str(minilm), "--range", "0-4",
                 "--num", "3", "--max-length", "96"]) == 0
    mined = [json.loads(line) for line in out.read_text().splitlines()]
    assert [m["query"] for m in mined] == [r.query for r in rows]
    for m, r in zip(mined, rows):
        assert m["pos"] == r.pos and 0 < len(m["neg"]) <= 3 and not set(m["neg"]) & set(r.pos)
    from transformers import AutoModel, AutoTokenizer

    from mgtrainer.driver.pooling import cosine_scores

    tok, model = AutoTokenizer.from_pretrained(minilm), AutoModel.from_pretrained(minilm)
    for m in mined[:4]:  # teacher scores for distillation: 100 x the miner's cosine of each written passage
        cos = cosine_scores(model, tok, [m["query"]] * (len(m["pos"]) + len(m["neg"])), m["pos"] + m["neg"], 96)
        assert m["pos_scores"] + m["neg_scores"] == pytest.approx([100 * c for c in cos], abs=1e-2)
    assert main(["data", "mine-negatives", str(src), "-o", str(out), "--model", str(minilm), "--range", "9-3"]) == 2
