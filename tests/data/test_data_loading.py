"""load_splits (dataset_info names, max_samples, val_size, eval files, mixing, rejected rows) and the
readers (parquet, TSV, datasets folders, plain folders, streaming)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from mgtrainer.data import iter_records, iter_splits, load_splits
from mgtrainer.errors import MgtError


def cfg(**kw):
    base = dict(train=[], eval=None, dataset_dir=None, format=None, mix=None, val_size=None, max_samples=None, seed=7)
    return SimpleNamespace(**base | kw)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_dataset_names_with_dataset_dir(shared_data):
    lf = shared_data / "llama-factory"
    s = load_splits(cfg(train=["alpaca_en_demo", "identity"], dataset_dir=str(lf)), "chat")
    assert len(s.train) == 999 + 91 and s.eval == [] and s.rejected == []
    s = load_splits(cfg(train="alpaca_en_demo,identity", dataset_dir=str(lf), max_samples=50), "chat")
    assert len(s.train) == 100  # max_samples caps each dataset, as in LLaMA-Factory
    assert load_splits(cfg(train=["c4_demo", "wiki_demo"], dataset_dir=str(lf)), "text").train[-1].kind == "text"
    assert len(load_splits(cfg(train=["dpo_en_demo"], dataset_dir=str(lf)), "preference").train) == 300


def test_unknown_dataset_name_suggests_nearest(shared_data):
    with pytest.raises(MgtError, match=r"unknown dataset 'alpaca_en_dem' \(nearest: alpaca_en_demo\) \(data.train\[0\]\)"):
        load_splits(cfg(train=["alpaca_en_dem"], dataset_dir=str(shared_data / "llama-factory")), "chat")
    with pytest.raises(MgtError, match=r"has no local file \(alpaca_en.hf_hub_url\)"):
        load_splits(cfg(train=["alpaca_en"], dataset_dir=str(shared_data / "llama-factory")), "chat")


def test_a_mapped_column_the_file_lacks_is_one_mapping_error(tmp_path):
    """dataset_info.json maps prompt to a column no row has: one line naming the mapping, not one per row."""
    write_jsonl(tmp_path / "qa.jsonl", [{"q": f"question {i}", "a": "answer"} for i in range(50)])
    (tmp_path / "dataset_info.json").write_text(json.dumps(
        {"qa": {"file_name": "qa.jsonl", "columns": {"prompt": "question", "response": "a"}}}))
    with pytest.raises(MgtError) as err:
        load_splits(cfg(train=["qa"], dataset_dir=str(tmp_path)), "chat")
    assert str(err.value).endswith("qa.jsonl:1: the dataset's column mapping names question (prompt), which the file "
                                   "does not have (its columns: q, a); expected column names of the file in the "
                                   "dataset's \"columns\" (dataset_info.json)")
    (tmp_path / "dataset_info.json").write_text(json.dumps(
        {"qa": {"file_name": "qa.jsonl", "columns": {"prompt": "q", "response": "a"}}}))
    assert len(load_splits(cfg(train=["qa"], dataset_dir=str(tmp_path)), "chat").train) == 50


def test_val_size_ratio_and_count_are_seeded(shared_data):
    f = str(shared_data / "snips/snips_intent_train.jsonl")
    a = load_splits(cfg(train=[f], val_size=0.1), "classify")
    b = load_splits(cfg(train=[f], val_size=0.1), "classify")
    assert (len(a.train), len(a.eval)) == (1890, 210)
    assert [r.source for r in a.eval] == [r.source for r in b.eval]
    assert not {r.source for r in a.eval} & {r.source for r in a.train}
    c = load_splits(cfg(train=[f], val_size=100, seed=8), "classify")
    assert len(c.eval) == 100 and [r.source for r in c.eval] != [r.source for r in a.eval[:100]]
    with pytest.raises(MgtError, match="val_size"):
        load_splits(cfg(train=[f], val_size=5000), "classify")


def test_separate_eval_files(shared_data):
    s = load_splits(cfg(train=[str(shared_data / "snips/snips_intent_train.jsonl")],
                        eval=[str(shared_data / "snips/snips_intent_validate.jsonl")], val_size=0.5), "classify")
    assert (len(s.train), len(s.eval)) == (2100, 700)


def test_mix_weights(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"text": f"a{i}", "label": "a"} for i in range(100)])
    b = write_jsonl(tmp_path / "b.jsonl", [{"text": f"b{i}", "label": "b"} for i in range(10)])
    s = load_splits(cfg(train=[str(a), str(b)], mix=[1, 1]), "classify")
    labels = [r.label for r in s.train]
    assert len(labels) == 110 and labels.count("a") == 55 and labels.count("b") == 55  # b oversampled
    assert len({r.text for r in s.train if r.label == "b"}) == 10
    with pytest.raises(MgtError, match=r"data.mix"):
        load_splits(cfg(train=[str(a), str(b)], mix=[1]), "classify")


@pytest.mark.parametrize("opts", [dict(val_size=0.1), dict(val_size=100, max_samples=900), dict(),
                                  dict(eval="snips_intent_validate", val_size=0.5)])
def test_iter_splits_streams_what_load_splits_reads(shared_data, tmp_path, opts):
    """data pack reads in constant memory through iter_splits: the same records in the same order per split."""
    snips = shared_data / "snips"
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"text": "", "label": "x"}, {"text": "ok", "label": "x"}])
    if "eval" in opts:
        opts = opts | {"eval": [str(snips / "snips_intent_validate.jsonl")]}
    c = cfg(train=[str(snips / "snips_intent_train.jsonl"), str(bad)], **opts)
    want = load_splits(c, "classify")
    rejected = []
    got = {"train": [], "eval": []}
    for split, rec in iter_splits(c, "classify", rejected):
        got[split].append(rec.source)
    assert got == {"train": [r.source for r in want.train], "eval": [r.source for r in want.eval]}
    assert len(got["eval"]) == {0.1: 210, 100: 100, None: 0, 0.5: 700}[opts.get("val_size")]
    assert rejected == want.rejected == [(f"{bad}:1", "empty text (text); expected a non-empty string")]


def test_iter_splits_refuses_mix(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"text": "a", "label": "a"}])
    with pytest.raises(MgtError, match=r"data.mix samples across all rows"):
        next(iter_splits(cfg(train=[str(a), str(a)], mix=[1, 1]), "classify", []))


def test_rejected_rows_are_returned_and_all_bad_is_an_error(tmp_path):
    f = write_jsonl(tmp_path / "m.jsonl", [{"text": "ok", "label": "x"}, {"text": "", "label": "x"}])
    s = load_splits(cfg(train=[str(f)]), "classify")
    assert len(s.train) == 1 and s.rejected == [(f"{f}:2", "empty text (text); expected a non-empty string")]
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"text": "", "label": "x"}])
    with pytest.raises(MgtError, match=r"no usable training rows .*first rejected: .*bad.jsonl:1: empty text"):
        load_splits(cfg(train=[str(bad)]), "classify")


def test_kind_coercions(shared_data):
    rr = next(iter_records(shared_data / "flagembedding/retrieval_nli.jsonl", kind="rerank"))
    assert rr.kind == "rerank" and rr.labels == [1.0, 0.0] and rr.scores == [98.1875, 82.25]
    emb = next(iter_records(shared_data / "wikiqa/wikiqa_dev_rerank.jsonl", kind="embed"))
    assert emb.kind == "embed" and len(emb.pos) == 2 and len(emb.neg) == 3
    cl = next(iter_records(shared_data / "llama-factory/identity.json", kind="classify"))
    assert cl.kind == "classify" and cl.text == "hi" and cl.label.startswith("Hello!")
    with pytest.raises(MgtError, match=r"glaive_toolcall_en_demo.json:2: a conversation of 8 turns \(messages\)"):
        next(iter_records(shared_data / "llama-factory/glaive_toolcall_en_demo.json", kind="classify"))


def test_multi_label_csv_and_tsv(tmp_path):
    csv = tmp_path / "l.csv"
    csv.write_text('text,label\n"hello, world","[""greet"", ""other""]"\nbye,leave\n')
    recs = list(iter_records(csv, kind="classify"))
    assert [r.label for r in recs] == [["greet", "other"], "leave"] and recs[0].source == f"{csv}:2"
    tsv = tmp_path / "l.tsv"
    tsv.write_text("system_prompt\tuser_prompt\tprediction\nnull\tIs it spam?\tspam\n")
    rec = next(iter_records(tsv))
    assert rec.meta["format"] == "mdl" and [m.role for m in rec.messages] == ["user", "assistant"]


def test_streaming_is_lazy(tmp_path):
    f = tmp_path / "big.jsonl"
    f.write_text(json.dumps({"text": "first"}) + "\n" + "{broken\n")
    it = iter_records(f)
    assert next(it).text == "first"  # the bad last line is only met when reached
    with pytest.raises(MgtError, match=r"big.jsonl:2: malformed JSON"):
        next(it)


def test_parquet_datasets_and_plain_folders(tmp_path, shared_data):
    import datasets

    rows = [{"instruction": f"q{i}", "input": "", "output": f"a{i}"} for i in range(5)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "dd"))
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "p.parquet"))
    for name in ("ds", "dd", "p.parquet"):
        recs = list(iter_records(tmp_path / name))
        assert [r.messages[-1].content for r in recs] == [f"a{i}" for i in range(5)], name
    folder = tmp_path / "folder"
    folder.mkdir()
    write_jsonl(folder / "1.jsonl", [{"text": "x"}])
    write_jsonl(folder / "2.jsonl", [{"text": "y"}])
    (folder / "3.txt").write_text("z\n")
    assert [r.text for r in iter_records(folder)] == ["x", "y", "z"]
    assert [r.source for r in iter_records(folder)][-1] == f"{folder / '3.txt'}:1"


def test_alpaca_csv_empty_cells_are_absent(tmp_path):
    from mgtrainer.data import to_row

    f = tmp_path / "a.csv"
    f.write_text("instruction,input,output,system,history\nhi,,hello,,\nyo,,hey,be brief,\n")
    first, second = iter_records(f)
    assert [m.role for m in first.messages] == ["user", "assistant"]
    assert [m.role for m in second.messages] == ["system", "user", "assistant"]
    assert to_row(first) == {"instruction": "hi", "input": "", "output": "hello", "system": "", "history": ""}
    with pytest.raises(MgtError, match=r"l.csv:2: empty label \(label\); expected a non-empty label"):
        (tmp_path / "l.csv").write_text("text,label\nhello,\n")
        next(iter_records(tmp_path / "l.csv", kind="classify"))


def test_byte_order_mark_and_crlf(tmp_path):
    f = tmp_path / "bom.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + b'{"text": "a"}\r\n{"text": "b"}\r\n')
    assert [r.text for r in iter_records(f)] == ["a", "b"]
    t = tmp_path / "bom.txt"
    t.write_bytes(b"\xef\xbb\xbfdoc one\r\ndoc two\r\n")
    assert [r.text for r in iter_records(t)] == ["doc one", "doc two"]


def test_data_options_read_the_real_data_config_once():
    """The typed edge between config and data layer: every DataOptions field is a DataConfig field."""
    from dataclasses import fields

    from mgtrainer.config import load_config
    from mgtrainer.config.sections import DataConfig
    from mgtrainer.data.loaders import DataOptions

    assert {f.name for f in fields(DataOptions)} <= set(DataConfig.model_fields)
    cfg = load_config({"task": "sft", "model": "m", "dataset": "a.jsonl,b.jsonl", "mix": [1, 3], "data_seed": 0,
                       "val_size": 0.1, "max_samples": 5})
    opts = DataOptions.of(cfg.data)
    assert opts == DataOptions(train=("a.jsonl", "b.jsonl"), mix=(1.0, 3.0), val_size=0.1, max_samples=5, seed=0)
