"""data.streaming for pt and sft: lazy reading, buffer shuffle, real training on the tiny models, refusals."""

import json
import math
import random
from pathlib import Path

import pytest

from mgtrainer.app import runs
from mgtrainer import manifest as mf
from mgtrainer.data.stream import Rejects, RecordStream, shuffled, stream_splits
from mgtrainer.errors import MgtError

STREAM = {"streaming": True, "buffer_size": 8}


@pytest.fixture(scope="module")
def big_text(tmp_path_factory) -> Path:
    """6000 short documents; lines 2, 10 and 5000 are malformed JSON."""
    path = tmp_path_factory.mktemp("stream") / "big.jsonl"
    with open(path, "w") as fh:
        for i in range(1, 6001):
            row = {"text": f"doc {i} on topic {i % 13}. " * 4}
            fh.write("{broken\n" if i in (2, 10, 5000) else json.dumps(row) + "\n")
    return path


def _losses(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def _changed(base_dir, final) -> bool:
    import torch
    from transformers import AutoModelForCausalLM

    base, tuned = AutoModelForCausalLM.from_pretrained(base_dir), AutoModelForCausalLM.from_pretrained(final)
    return any(not torch.equal(a, b) for a, b in zip(base.parameters(), tuned.parameters()))


def test_buffer_shuffle_is_a_seeded_permutation_holding_only_the_buffer():
    pulled = []

    def source():
        for i in range(100):
            pulled.append(i)
            yield i

    it = shuffled(source(), 10, random.Random(1))
    next(it)
    assert len(pulled) == 11  # the buffer plus the item that pushed one out, not the whole source
    rest = list(it)
    assert sorted([*rest, next(shuffled(range(100), 10, random.Random(1)))]) == list(range(100))
    assert list(shuffled(range(100), 10, random.Random(1))) == list(shuffled(range(100), 10, random.Random(1)))
    assert list(shuffled(range(100), 10, random.Random(2))) != list(shuffled(range(100), 10, random.Random(1)))
    assert list(shuffled(range(5), 1, random.Random(1))) == list(range(5))


def test_streaming_pt_is_lazy_trains_and_reports_rows_it_meets(tiny_llama, make_cfg, big_text, capfd):
    from mgtrainer.tasks import pt

    cfg = make_cfg("pt", tiny_llama, [big_text], data={**STREAM, "val_size": 4, "cutoff_len": 32})
    metrics = runs.train(cfg)
    err = capfd.readouterr().err
    assert err.count(f"{big_text}:2: malformed JSON") == 1  # among the eval rows: reported once, not per read
    assert f"{big_text}:10: malformed JSON" in err  # met in the train stream: reported, training goes on
    assert "1 rows rejected in the first pass" in err
    assert f"{big_text}:5000:" not in err  # 3 steps x 4 blocks never reach line 5000
    out = Path(cfg.train.output_dir)
    losses = _losses(out)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert _changed(tiny_llama, out / "final") and mf.read(out / "final").task == "pt"
    assert math.isfinite(metrics["eval_loss"])
    # the eval rows are the first 4 records: evaluating the saved model on them gives the same loss
    assert runs.evaluate(cfg, model_dir=out / "final")["eval_loss"] == pytest.approx(metrics["eval_loss"], rel=1e-4)
    capfd.readouterr()
    runs.load_data(make_cfg("pt", tiny_llama, [big_text]), pt)  # without streaming the whole file is read first
    assert f"{big_text}:5000: malformed JSON" in capfd.readouterr().err


def test_streaming_sft_repeats_passes_and_evaluates_generation(tiny_qwen2, make_cfg, shared_data):
    gsm = shared_data / "microsoft-foundry"
    cfg = make_cfg("sft", tiny_qwen2, [gsm / "gsm8k_chat_train.jsonl"], [gsm / "gsm8k_chat_validation.jsonl"],
                   data={**STREAM, "max_samples": 6, "cutoff_len": 256}, train={"learning_rate": 5e-3},
                   eval={"generation_samples": 2, "max_new_tokens": 4})
    metrics = runs.train(cfg)  # 3 steps x 4 rows = 12 rows from a 6-row stream: the Trainer starts a 2nd pass
    out = Path(cfg.train.output_dir)
    losses = _losses(out)
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert _changed(tiny_qwen2, out / "final")
    assert {"eval_loss", "eval_perplexity", "eval_rouge-l"} <= set(mf.read(out / "final").metrics)
    assert math.isfinite(metrics["eval_loss"])


def test_stream_order_is_seeded_per_pass(tiny_qwen2, make_cfg, shared_data):
    from torch.utils.data import DataLoader

    from mgtrainer.driver import collate
    from mgtrainer.driver.stream import RowStream
    from mgtrainer.tasks import sft

    gsm = shared_data / "microsoft-foundry"
    cfg = make_cfg("sft", tiny_qwen2, [gsm / "gsm8k_chat_train.jsonl"], data={**STREAM, "max_samples": 40})
    tok, _ = sft.tokenizer(cfg, cfg.model)
    records, evals = stream_splits(cfg.data, "chat")

    def first_batch(seed, epoch=0):
        rows = RowStream(records, lambda recs: sft.encode_rows(cfg, tok, recs), cfg.data.buffer_size, seed, shuffled,
                         Rejects())
        rows.set_epoch(epoch)
        return next(iter(DataLoader(rows, batch_size=4, collate_fn=collate.collator(tok, "causal_lm"))))

    a = first_batch(42)
    assert a["input_ids"].equal(first_batch(42)["input_ids"]) and a["labels"].equal(first_batch(42)["labels"])
    assert not a["input_ids"].equal(first_batch(7)["input_ids"])  # another seed, another order
    assert not a["input_ids"].equal(first_batch(42, epoch=1)["input_ids"])  # each pass is reshuffled


def test_streaming_refusals(tiny_llama, make_cfg, minilm, big_text):

    with pytest.raises(MgtError, match=r"train.max_steps"):
        runs.train(make_cfg("pt", tiny_llama, [big_text], data=STREAM, train={"max_steps": -1}))
    with pytest.raises(MgtError, match=r"data.val_size"):
        stream_splits(make_cfg("pt", tiny_llama, [big_text], data={**STREAM, "val_size": 0.1}).data, "text")
    with pytest.raises(MgtError, match=r"supported by pt and sft.*data.streaming"):
        runs.train(make_cfg("classify", minilm, [big_text], data=STREAM))
    with pytest.raises(MgtError, match=r"max_tokens_per_batch"):
        runs.train(make_cfg("sft", tiny_llama, [big_text], data=STREAM, train={"max_tokens_per_batch": 512}))
    with pytest.raises(MgtError, match=r"nope.jsonl"):  # a missing file fails before any training
        RecordStream(make_cfg("pt", tiny_llama, [big_text.parent / "nope.jsonl"], data=STREAM).data, "text")


def test_streaming_resume_continues_the_stream(tiny_qwen2, make_cfg, shared_data, sigterm_at, tmp_path):
    """SIGTERM at step 3 then resume_from_checkpoint=auto: Trainer skips the batches already trained
    (reading them again from the stream), so steps 5-6 match an uninterrupted streaming run."""
    data = [shared_data / "llama-factory" / "alpaca_en_demo.json"]
    sections = dict(data={**STREAM, "cutoff_len": 96},
                    train={"max_steps": 6, "per_device_train_batch_size": 2, "save_steps": 100})
    plain = make_cfg("sft", tiny_qwen2, data, overrides=[f"train.output_dir={tmp_path / 'a'}"], **sections)
    runs.train(plain)
    cfg = make_cfg("sft", tiny_qwen2, data, overrides=[f"train.output_dir={tmp_path / 'b'}"], **sections)
    assert sigterm_at(runs.train, cfg, 3) == 143
    runs.train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"resume_from_checkpoint": "auto"})}))
    a, b = _losses(Path(plain.train.output_dir)), _losses(Path(cfg.train.output_dir))
    assert len(b) == 6 and b[-1] == pytest.approx(a[-1], rel=1e-5) and b[-2] == pytest.approx(a[-2], rel=1e-5)
