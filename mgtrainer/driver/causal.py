"""The one training flow of the causal-LM tasks (pt, sft): a task module declares what differs as a
CausalTask, whose run / evaluate are the task's. `data` is mgtrainer.tasks.contract.Data, loaded by the app
for task.RECORD. Light at import (the task registry imports it): torch and transformers load in the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mgtrainer.driver.metrics import scalar_metrics
from mgtrainer.driver.run import conclude, main_process, start
from mgtrainer.errors import MgtError


@dataclass(frozen=True)
class CausalTask:
    """What a causal-LM task hands the flow: the hooks in which pt and sft differ."""

    HEAD: str
    RECORD: str  # "chat" conversations also get generation metrics and samples at every eval
    tokenizer: Callable  # (cfg, model_cfg) -> (tok, template name for the manifest)
    encode: Callable  # (cfg, tok, records) -> driver.tokenize.Encoded
    encode_rows: Callable | None = None  # (cfg, tok, records) -> lazy token rows (a STREAMING task's)
    extra_metrics: Callable | None = None  # (cfg, trainer, tok, eval_records) -> dict beside loss and perplexity

    def run(self, cfg, data) -> dict:
        """Train (loaded or streamed data); eval loss, perplexity and the task's extras; final/ + manifest."""
        return fit_causal_lm(cfg, self, data)

    def evaluate(self, cfg, data, model_dir) -> dict:
        """Eval loss, perplexity and the task's extras of model_dir on the eval split."""
        return evaluate_causal_lm(cfg, self, data, model_dir)


def varlen_attention(model) -> bool:
    """The model's attention takes cu_seq_lens (flash attention): a packed row costs each row's own length."""
    return "flash" in str(getattr(model.config, "_attn_implementation", ""))


def padding_free_or_budget(cfg, varlen: bool):
    """train.padding_free where attention is varlen; elsewhere (sdpa/eager, every CPU) the packed row's mask is
    dense, measured 2x the CPU of token-budget batches (references/benchmarks.md), so token-budget batches
    (the same per-token loss) are used instead, with one note."""
    t = cfg.train
    if not t.padding_free or varlen:
        return cfg
    attn = "the model's attention has no varlen kernel (flash_attention_2/3)"
    budget = None if cfg.data.streaming else t.max_tokens_per_batch or t.per_device_train_batch_size * cfg.data.cutoff_len
    if main_process():
        print(f"note: train.padding_free: {attn}; " + ("a stream trains in padded batches" if budget is None else
              f"using token-budget batches of {budget} tokens instead (train.max_tokens_per_batch: the same "
              "per-token loss, no dense packed mask)"))
    return cfg.model_copy(update={"train": t.model_copy(update={"padding_free": False, "max_tokens_per_batch": budget})})


def fit_causal_lm(cfg, task: CausalTask, data) -> dict:
    """Train (loaded or streamed data), eval loss/perplexity (+ the task's extras), final/ + manifest, plots."""
    from mgtrainer.driver import collate, model as dm, trainer as dt
    from mgtrainer.driver.gen_eval import add_generation_eval

    start(cfg)
    tok, template = task.tokenizer(cfg, cfg.model)
    model = dm.apply_finetuning(dm.load_model(cfg.model, task.HEAD, tok), cfg.lora, task.HEAD)
    train_rows, eval_rows, counts = _causal_rows(cfg, task, tok, data)
    cfg = padding_free_or_budget(cfg, varlen_attention(model))
    collate_fn = collate.collator(tok, task.HEAD, cfg.train.padding_free, varlen=cfg.train.padding_free)
    trainer = dt.build_trainer(cfg, model, tok, train_rows, eval_rows, collate_fn, perplexity=True,
                               trainer_cls=dt.CausalTrainer)
    if task.RECORD == "chat":  # conversations: generate on the eval prompts at every eval
        add_generation_eval(trainer, cfg, list(data.eval or []))
    dt.train(trainer, cfg)
    if cfg.data.streaming:
        train_rows.rejects.report()
    metrics = causal_metrics(cfg, task, trainer, tok, eval_rows, data.eval)
    return conclude(trainer, tok, cfg, task.HEAD, metrics, template=template, data=counts)


def _causal_rows(cfg, task, tok, data):
    """Token rows (a list, or a shuffled RowStream) and what encoding did to the train rows (Encoded.counts;
    {} for a stream or a packed cache), with the summary line and the preview printed."""
    from mgtrainer.driver.tokenize import Encoded
    from mgtrainer import preview

    if cfg.data.packed:
        from mgtrainer.driver import packed

        train_rows, eval_rows = packed.load(cfg, tok)
        if main_process():
            print(f"train: {len(train_rows)} rows from the packed cache {cfg.data.packed}; eval: {len(eval_rows)}")
        return train_rows, eval_rows, {}
    eval_set = task.encode(cfg, tok, data.eval)
    eval_note = f"; {eval_set.summary('eval')}" if data.eval else ""
    if not cfg.data.streaming:
        train_set = task.encode(cfg, tok, data.train)
        if main_process():  # under torchrun only rank 0 speaks
            print(train_set.summary("train") + eval_note)
            preview.show(tok, train_set, cfg.train.preview_samples)
        return train_set.rows, eval_set.rows, train_set.counts()
    from mgtrainer.driver.stream import RowStream

    rows = RowStream(data.train, lambda records: task.encode_rows(cfg, tok, records), cfg.data.buffer_size,
                     cfg.data.seed, data.shuffle, data.rejects)
    print(f"train: streaming {data.train.describe()}, shuffle buffer {cfg.data.buffer_size} rows, "
          f"{cfg.train.max_steps} steps{eval_note}")
    if cfg.train.preview_samples and main_process():
        head = Encoded(rows=rows.head(cfg.train.preview_samples))
        preview.show(tok, head, cfg.train.preview_samples, title="train (first rows of the stream)")
    return rows, eval_set.rows, {}


def causal_metrics(cfg, task, trainer, tok, eval_rows, eval_records) -> dict:
    """Eval loss and perplexity on eval_rows, plus the task's extra metrics; {} without eval rows."""
    from mgtrainer.driver.metrics import perplexity
    from mgtrainer.driver.trainer import final_eval

    if not eval_rows:
        return {}
    metrics = scalar_metrics(final_eval(trainer))
    metrics["eval_perplexity"] = perplexity(metrics["eval_loss"])
    if task.extra_metrics:
        metrics.update(task.extra_metrics(cfg, trainer, tok, eval_records))
    return metrics


def evaluate_causal_lm(cfg, task: CausalTask, data, model_dir) -> dict:
    """Eval metrics of model_dir on the eval split (the train rows when there is none; streaming: the
    eval rows of data.eval or an integer data.val_size, which it then needs)."""
    from mgtrainer.driver import collate, model as dm, trainer as dt

    src = cfg.model.model_copy(update={"name_or_path": str(model_dir)})
    if cfg.data.streaming and not data.eval:
        raise MgtError("evaluating a streaming config needs eval rows (data.eval or data.val_size); expected "
                       "data.eval files or an integer val_size")
    records = data.eval if cfg.data.streaming else (data.eval or data.train)
    tok, _ = task.tokenizer(cfg, src)
    rows = task.encode(cfg, tok, records).rows
    trainer = dt.build_trainer(cfg, dm.load_model(src, task.HEAD, tok), tok, None, rows,
                               collate.collator(tok, task.HEAD), perplexity=True)
    return causal_metrics(cfg, task, trainer, tok, rows, records)
