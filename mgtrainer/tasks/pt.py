"""pt: continued pretraining on plain text, packed into blocks of data.cutoff_len tokens."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

HEAD = "causal_lm"
RECORD = "text"
SERVE = {"runner": "generate", "endpoints": ["/v1/completions", "/v1/chat/completions"]}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["pt"] = "pt"
    packing: bool = Field(True, description="Concatenate documents (EOS-separated) and cut into cutoff_len "
                          "blocks; false = one row per document, cut at cutoff_len.")


def encode(cfg, tok, records, labels=None):
    from mgtrainer.driver.tokenize import pack_texts

    return pack_texts(tok, records, cfg.data.cutoff_len, cfg.task.packing)


def run(cfg) -> dict:
    """Train on packed text; eval loss and perplexity; final/ + manifest, metrics.jsonl, plots."""
    from mgtrainer.driver import collate, model as dm, preview, run as dr, save, trainer as dt

    dr.start(cfg)
    splits = dr.load_data(cfg, RECORD)
    tok = dm.load_tokenizer(cfg.model, HEAD)
    model = dm.apply_finetuning(dm.load_model(cfg.model, HEAD, tok), cfg.lora, HEAD)
    train_set, eval_set = encode(cfg, tok, splits.train), encode(cfg, tok, splits.eval)
    print(train_set.summary("train") + (f"; {eval_set.summary('eval')}" if splits.eval else ""))
    preview.show(tok, train_set, cfg.train.preview_samples)
    trainer = dt.build_trainer(cfg, model, tok, train_set.rows, eval_set.rows, collate.collator(tok, HEAD),
                               perplexity=True)
    dt.train(trainer, cfg)
    metrics = _evaluate(trainer, eval_set.rows)
    save.save_final(trainer, tok, cfg, HEAD, metrics, template=cfg.model.template or "model")
    dr.finish(trainer, cfg, metrics)
    if trainer.is_world_process_zero():
        print({k: round(v, 4) for k, v in metrics.items() if k in ("eval_loss", "eval_perplexity")})
    return metrics


def _evaluate(trainer, rows) -> dict:
    from mgtrainer.driver.metrics import perplexity
    from mgtrainer.driver.run import scalar_metrics

    if not rows:
        return {}
    metrics = scalar_metrics(trainer.evaluate())
    metrics["eval_perplexity"] = perplexity(metrics["eval_loss"])
    return metrics


def evaluate(cfg, model_dir) -> dict:
    """Eval loss and perplexity of model_dir on the (packed) eval split."""
    from mgtrainer.driver import collate, model as dm, run as dr, trainer as dt

    src = cfg.model.model_copy(update={"name_or_path": str(model_dir)})
    splits = dr.load_data(cfg, RECORD)
    tok = dm.load_tokenizer(src, HEAD)
    rows = encode(cfg, tok, splits.eval or splits.train).rows
    trainer = dt.build_trainer(cfg, dm.load_model(src, HEAD, tok), tok, None, rows, collate.collator(tok, HEAD),
                               perplexity=True)
    return _evaluate(trainer, rows)
