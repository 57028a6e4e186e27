"""pt: continued pretraining on plain text, packed into blocks of data.cutoff_len tokens."""

from functools import partial
from typing import Literal

from pydantic import Field

from mgtrainer.driver.causal import CausalTask
from mgtrainer.tasks.contract import Serve, TaskConfig
from mgtrainer.driver.serving import first
from mgtrainer.driver.serving import (  # noqa: F401 (the contract's serving functions, shared with sft)
    completions as served, generate as call, generated_text as response, no_settings as serve_settings,
    same_generations as compare)

HEAD = "causal_lm"
RECORD = "text"
SERVE = Serve(runner="generate", endpoints=("/v1/completions", "/v1/chat/completions"))
STREAMING = True
PROBE = [{"text": "The quick brown fox"}, {"text": "Machine learning models learn"}, {"text": "def add(a, b):"}]


class Config(TaskConfig):
    name: Literal["pt"] = "pt"
    packing: bool = Field(True, description="Concatenate documents (EOS-separated) and cut into cutoff_len "
                          "blocks; false = one row per document, cut at cutoff_len.")


def encode(cfg, tok, records, labels=None, stream: bool = False):
    """Documents -> token blocks; with stream, lazily over a record stream (data.streaming: packing works across
    the stream)."""
    from mgtrainer.driver.tokenize import pack_stream, pack_texts

    return (pack_stream if stream else pack_texts)(tok, records, cfg.data.cutoff_len, cfg.task.packing)


encode_rows = partial(encode, stream=True)


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

