"""sft: supervised fine-tuning of a chat model; only assistant turns are trained by default."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HEAD = "causal_lm"
RECORD = "chat"
SERVE = {"runner": "generate", "endpoints": ["/v1/chat/completions", "/v1/completions"]}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["sft"] = "sft"
    train_on_prompt: bool = Field(False, description="Also train system/user/tool tokens (default: only "
                                  "assistant turns, every one of a multi-turn conversation).")


def encode(cfg, tok, records, labels=None):
    from mgtrainer.driver.tokenize import encode_chats

    return encode_chats(tok, records, cfg.data.cutoff_len, cfg.task.train_on_prompt)


def _tokenizer(cfg, model_cfg):
    from mgtrainer.driver.model import load_tokenizer
    from mgtrainer.driver.templates import template_name

    tok = load_tokenizer(model_cfg, HEAD)
    return tok, template_name(tok, cfg.model.template)


def run(cfg) -> dict:
    """Fine-tune on chat records; eval loss, perplexity, ROUGE/BLEU-4 of generations; final/ + manifest."""
    from mgtrainer.driver import collate, model as dm, preview, run as dr, save, trainer as dt

    dr.start(cfg)
    splits = dr.load_data(cfg, RECORD)
    tok, template = _tokenizer(cfg, cfg.model)
    model = dm.apply_finetuning(dm.load_model(cfg.model, HEAD, tok), cfg.lora, HEAD)
    train_set, eval_set = encode(cfg, tok, splits.train), encode(cfg, tok, splits.eval)
    print(train_set.summary("train") + (f"; {eval_set.summary('eval')}" if splits.eval else ""))
    preview.show(tok, train_set, cfg.train.preview_samples)
    trainer = dt.build_trainer(cfg, model, tok, train_set.rows, eval_set.rows, collate.collator(tok, HEAD),
                               perplexity=True)
    dt.train(trainer, cfg)
    metrics = _evaluate(cfg, trainer, tok, eval_set.rows, splits.eval)
    save.save_final(trainer, tok, cfg, HEAD, metrics, template=template)
    dr.finish(trainer, cfg, metrics)
    if trainer.is_world_process_zero():
        print({k: round(v, 4) for k, v in metrics.items() if k.startswith("eval_")})
    return metrics


def _evaluate(cfg, trainer, tok, eval_rows, eval_records) -> dict:
    from mgtrainer.driver import run as dr
    from mgtrainer.driver.generate import generation_eval
    from mgtrainer.driver.metrics import perplexity

    if not eval_rows:
        return {}
    metrics = dr.scalar_metrics(trainer.evaluate())
    metrics["eval_perplexity"] = perplexity(metrics["eval_loss"])
    if trainer.is_world_process_zero():
        gen = generation_eval(trainer.model, tok, eval_records, cfg.eval.generation_samples, cfg.eval.max_new_tokens)
        metrics.update(gen)
        if gen:
            trainer.log(gen)
    return metrics


def evaluate(cfg, model_dir) -> dict:
    """Eval loss, perplexity and generation metrics of model_dir on the eval split."""
    from mgtrainer.driver import collate, model as dm, run as dr, trainer as dt

    src = cfg.model.model_copy(update={"name_or_path": str(model_dir)})
    splits = dr.load_data(cfg, RECORD)
    tok, _ = _tokenizer(cfg, src)
    records = splits.eval or splits.train
    rows = encode(cfg, tok, records).rows
    trainer = dt.build_trainer(cfg, dm.load_model(src, HEAD, tok), tok, None, rows, collate.collator(tok, HEAD),
                               perplexity=True)
    return _evaluate(cfg, trainer, tok, rows, records)
