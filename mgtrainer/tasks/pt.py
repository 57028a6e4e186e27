"""pt: continued pretraining on plain text, packed into blocks of data.cutoff_len tokens."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mgtrainer.driver.causal import CausalTask
from mgtrainer.tasks.contract import Serve
from mgtrainer.driver.serving import first
from mgtrainer.driver.serving import (  # noqa: F401 (the contract's serving functions, shared with sft)
    completions as served, generate as call, generated_text as response, no_settings as serve_settings,
    same_generations as compare)

HEAD = "causal_lm"
RECORD = "text"
SERVE = Serve(runner="generate", endpoints=("/v1/completions", "/v1/chat/completions"))
STREAMING = True
PROBE = [{"text": "The quick brown fox"}, {"text": "Machine learning models learn"}, {"text": "def add(a, b):"}]


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["pt"] = "pt"
    packing: bool = Field(True, description="Concatenate documents (EOS-separated) and cut into cutoff_len "
                          "blocks; false = one row per document, cut at cutoff_len.")


def encode(cfg, tok, records, labels=None):
    from mgtrainer.driver.tokenize import pack_texts

    return pack_texts(tok, records, cfg.data.cutoff_len, cfg.task.packing)


def encode_rows(cfg, tok, records):
    """encode() over a record stream, lazily (data.streaming): packing works across the stream."""
    from mgtrainer.driver.tokenize import pack_stream

    return pack_stream(tok, records, cfg.data.cutoff_len, cfg.task.packing)


def tokenizer(cfg, model_cfg):
    from mgtrainer.driver.model import load_tokenizer

    return load_tokenizer(model_cfg, HEAD), cfg.model.template or "model"


_FLOW = CausalTask(HEAD, RECORD, tokenizer, encode, encode_rows)  # driver/causal.py; eval: loss and perplexity
run, evaluate = _FLOW.run, _FLOW.evaluate


def request(row, manifest, tok) -> list[int]:
    """predict reads text / prompt and continues it as is."""
    return tok(first(row, ("text", "prompt"), "text")).input_ids


def probe(manifest) -> list[dict]:
    return PROBE

