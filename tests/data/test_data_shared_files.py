"""Every file listed in ../shared/data/README.md: detected, parsed with the listed row counts, and
written back to its own format row for row (lossless round trip)."""

from __future__ import annotations

import json
import re

import pytest

from mgtrainer.data import iter_records, to_row
from mgtrainer.data.readers import read_rows
from mgtrainer.data.registry import load_info, resolve

# file -> (detected format, record kind); row counts come from the README itself
EXPECTED = {
    "llama-factory/alpaca_en_demo.json": ("alpaca", "chat"),
    "llama-factory/alpaca_zh_demo.json": ("alpaca", "chat"),
    "llama-factory/identity.json": ("alpaca", "chat"),
    "llama-factory/glaive_toolcall_en_demo.json": ("sharegpt", "chat"),
    "llama-factory/dpo_en_demo.json": ("sharegpt", "preference"),
    "llama-factory/kto_en_demo.json": ("messages", "kto"),
    "llama-factory/c4_demo.jsonl": ("text", "text"),
    "llama-factory/wiki_demo.txt": ("text", "text"),
    "microsoft-foundry/gsm8k_chat_train.jsonl": ("messages", "chat"),
    "microsoft-foundry/gsm8k_chat_validation.jsonl": ("messages", "chat"),
    "microsoft-foundry/stock_toolcall_training.jsonl": ("messages", "chat"),
    "microsoft-foundry/stock_toolcall_validation.jsonl": ("messages", "chat"),
    "microsoft-foundry/orca_dpo_pairs_validation.jsonl": ("openai_preference", "preference"),
    "snips/snips_intent_train.jsonl": ("classify", "classify"),
    "snips/snips_intent_validate.jsonl": ("classify", "classify"),
    "flagembedding/retrieval_msmarco.jsonl": ("embed", "embed"),
    "flagembedding/retrieval_nq.jsonl": ("embed", "embed"),
    "flagembedding/retrieval_nli.jsonl": ("embed", "embed"),
    "flagembedding/reranker_normal_examples.jsonl": ("embed", "embed"),
    "minicpm/AdvertiseGenChatML_train.json": ("messages", "chat"),
    "minicpm/AdvertiseGenChatML_dev.json": ("messages", "chat"),
    "wikiqa/wikiqa_dev_rerank.jsonl": ("rerank", "rerank"),
    "wikiqa/wikiqa_train_rerank.jsonl": ("rerank", "rerank"),
}


def readme_counts(shared_data) -> dict[str, int]:
    """file -> rows, from the README table ({a,b} file patterns with 'x / y', 'N each', 'N queries')."""
    counts = {}
    for line in (shared_data / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6 or not re.match(r"^\d", cells[-1]):
            continue
        name, rows = cells[0], cells[-1]
        m = re.search(r"\{([^}]*)\}", name)
        names = [name[: m.start()] + part + name[m.end():] for part in m.group(1).split(",")] if m else [name]
        numbers = [int(n) for n in re.findall(r"\d+", rows.replace(",", ""))]
        for i, file in enumerate(names):
            counts[file] = numbers[i] if len(numbers) == len(names) else numbers[0]
    return counts


def test_readme_lists_every_expected_file(shared_data):
    counts = readme_counts(shared_data)
    assert set(EXPECTED) | {"llama-factory/dataset_info.json"} == set(counts)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_detect_parse_count_and_round_trip(shared_data, name):
    path = shared_data / name
    records = list(iter_records(path))
    assert len(records) == readme_counts(shared_data)[name]
    fmt, kind = EXPECTED[name]
    assert {r.meta["format"] for r in records} == {fmt}
    assert {r.kind for r in records} == {kind}
    rows = [row for _, row in read_rows(path)]
    for rec, row in zip(records, rows, strict=True):
        back = to_row(rec)
        assert back == row, rec.source
        assert list(back) == list(row), f"{rec.source}: column order"
    assert records[0].source == f"{path}:{1 if path.suffix != '.json' else 2}"


def test_dataset_info_entries(shared_data):
    info = load_info(shared_data / "llama-factory")
    assert len(info) == readme_counts(shared_data)["llama-factory/dataset_info.json"] == 104
    local = [n for n, e in info.items() if "file_name" in e and (shared_data / "llama-factory" / e["file_name"]).exists()]
    assert set(local) == {"identity", "alpaca_en_demo", "alpaca_zh_demo", "glaive_toolcall_en_demo", "dpo_en_demo",
                          "kto_en_demo", "wiki_demo", "c4_demo"}
    for name in local:
        path, spec = resolve(name, shared_data / "llama-factory", "data.train")
        records = list(iter_records(path, spec=spec))
        for rec, (_, row) in zip(records, read_rows(path), strict=True):
            assert to_row(rec) == row
    path, spec = resolve("kto_en_demo", shared_data / "llama-factory", "data.train")
    assert (spec.format, spec.tags["role_tag"]) == ("sharegpt", "role")  # LF's tags read as they are
    assert next(iter_records(path, spec=spec)).kind == "kto"


def test_glaive_tools_and_calls(shared_data):
    rec = next(iter_records(shared_data / "llama-factory/glaive_toolcall_en_demo.json"))
    assert rec.tools[0]["type"] == "function" and rec.tools[0]["function"]["name"] == "search_recipes"
    call = next(m for m in rec.messages if m.tool_calls)
    assert call.role == "assistant"
    assert json.loads(call.tool_calls[0]["function"]["arguments"]) == {"ingredients": ["chicken", "bell peppers", "rice"]}
    assert [m.role for m in rec.messages].count("tool") == 1
