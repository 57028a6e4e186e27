"""sft: supervised fine-tuning of a chat model; only assistant turns are trained by default."""

from functools import partial
from typing import Literal

from pydantic import Field

from mgtrainer.driver.causal import CausalTask
from mgtrainer.tasks.contract import Serve, TaskConfig
from mgtrainer.driver.serving import (  # noqa: F401 (the contract's serving functions, shared with pt, grpo)
    chat_probe as probe, chat_prompt, chat_request as request, chat_served as served, generate as call,
    generated_text as response, no_settings as serve_settings, same_generations as compare)

HEAD = "causal_lm"
RECORD = "chat"
SERVE = Serve(runner="generate", endpoints=("/v1/chat/completions", "/v1/completions"))
STREAMING = True


class Config(TaskConfig):
    name: Literal["sft"] = "sft"
    train_on_prompt: bool = Field(False, description="Also train system/user/tool tokens (default: only "
                                  "assistant turns, every one of a multi-turn conversation).")


# TRL's SFTConfig.packing: rows laid end to end without padding, attention kept within each row (TRL's default
# "bfd" packing lays them out the same way). mgtrainer does this per batch: train.padding_free.
RUN_ALIASES = {"packing": "train.padding_free"}


def encode(cfg, tok, records, labels=None, stream: bool = False):
    """One token row per conversation, with loss masks; with stream, lazily over a record stream (data.streaming)."""
    from mgtrainer.driver.tokenize import chat_stream, encode_chats

    return (chat_stream if stream else encode_chats)(tok, records, cfg.data.cutoff_len, cfg.task.train_on_prompt)


encode_rows = partial(encode, stream=True)


def tokenizer(cfg, model_cfg):
    """The tokenizer (with a fallback chat template if it has none) and the template's name."""
    from mgtrainer.driver.model import load_tokenizer
    from mgtrainer.driver.templates import template_name

    tok = load_tokenizer(model_cfg, HEAD)
    return tok, template_name(tok, cfg.model.template)


def extra_metrics(cfg, trainer, tok, eval_records) -> dict:
    """ROUGE/BLEU-4 and exact match of generations on eval prompts (main process), scored as training's per-eval
    callback scores them (driver/generate.py), also logged to metrics.jsonl."""
    from mgtrainer.driver.generate import generation_eval

    if not trainer.is_world_process_zero():
        return {}
    from mgtrainer.driver.gen_eval import generated_now

    if (done := generated_now(trainer)) is not None:  # this eval's generations were scored by the callback
        return done
    gen = generation_eval(trainer.model, tok, eval_records, cfg.eval.generation_samples, cfg.eval.max_new_tokens)
    if gen:
        trainer.log(gen)
    return gen


_FLOW = CausalTask(HEAD, RECORD, tokenizer, encode, encode_rows, extra_metrics)  # the flow of driver/causal.py
run, evaluate = _FLOW.run, _FLOW.evaluate
