"""pt: packing into cutoff_len blocks; a few full fine-tuning steps; save -> reload; manifest."""

from pathlib import Path

import pytest

from mgtrainer.app import runs
from mgtrainer import manifest as mf
from mgtrainer.data.records import Record
from mgtrainer.driver.tokenize import pack_texts


def test_packing_concatenates_documents_with_eos(tiny_llama):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama)
    docs = [Record(kind="text", text=f"document number {i} " * (i + 1)) for i in range(20)]
    packed = pack_texts(tok, docs, block=32)
    stream = [t for d in docs for t in tok(d.text)["input_ids"] + [tok.eos_token_id]]
    assert all(len(r["input_ids"]) == 32 and r["labels"] == r["input_ids"] for r in packed.rows)
    assert [t for r in packed.rows for t in r["input_ids"]] == stream[: len(packed.rows) * 32]
    assert len(stream) - len(packed.rows) * 32 < 32
    unpacked = pack_texts(tok, docs, block=32, packing=False)
    assert len(unpacked.rows) == 20 and unpacked.truncated == sum(len(tok(d.text)["input_ids"]) + 1 > 32 for d in docs)


def test_pt_full_trains_saves_reloads(tiny_llama, make_cfg, shared_data):
    import torch
    from transformers import AutoModelForCausalLM

    lf = shared_data / "llama-factory"
    cfg = make_cfg("pt", tiny_llama, [lf / "c4_demo.jsonl", lf / "wiki_demo.txt"],
                   data={"max_samples": 6, "val_size": 2, "cutoff_len": 64})
    metrics = runs.train(cfg)
    final = Path(cfg.train.output_dir) / "final"
    man = mf.read(final)
    assert (man.task, man.head, man.finetuning_type, man.adapter_dir) == ("pt", "causal_lm", "full", None)
    assert {"eval_loss", "eval_perplexity"} <= set(man.metrics)
    assert man.metrics["eval_perplexity"] == pytest.approx(2.718281828 ** man.metrics["eval_loss"], rel=1e-6)
    base, tuned = AutoModelForCausalLM.from_pretrained(tiny_llama), AutoModelForCausalLM.from_pretrained(final)
    assert all(not torch.equal(a, b) for a, b in zip(base.parameters(), tuned.parameters()))
    assert runs.evaluate(cfg, model_dir=final)["eval_loss"] == pytest.approx(metrics["eval_loss"], rel=1e-4)
    plots = {p.name for p in (Path(cfg.train.output_dir) / "plots").glob("*.png")}
    assert {"loss.png", "eval_perplexity.png"} <= plots
