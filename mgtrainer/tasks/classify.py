"""classify: single- or multi-label sequence classification (encoder or decoder backbone)."""

from typing import Literal

from pydantic import Field, field_validator

from mgtrainer.labels import class_key, looks_same
from mgtrainer.tasks.contract import Serve, TaskConfig, Verdict
from mgtrainer.driver.serving import TEXT_KEYS, classify_probs, first, max_abs_diff

HEAD = "sequence_classification"
RECORD = "classify"
SERVE = Serve(runner="pooling", convert="classify", endpoints=("/classify", "/pooling"))
STREAMING = False
DEFAULTS = {"train": {"group_by_length": True}}  # fewer padded tokens per sample: bench/suite.py classify
PROBE = [{"text": "Play the latest album on the kitchen speaker."}, {"text": "Will it rain in Boston tomorrow?"},
         {"text": "Book a table for two tonight."}, {"text": "Rate this book five stars."}]


class Config(TaskConfig):
    name: Literal["classify"] = "classify"
    labels: list[str] | None = Field(None, description="Fixed label order; default: sorted labels seen in "
                                     "the train data.")
    multi_label: bool = Field(False, description="Sigmoid + BCE per label; labels in data are lists.")
    threshold: float = Field(0.5, description="Multi-label decision threshold on each label's probability.")

    @field_validator("labels")
    @classmethod
    def _one_spelling_each(cls, labels):
        """A label listed twice, or two spellings of one class, would be two outputs of which one never trains."""
        seen: dict[str, int] = {}
        for i, label in enumerate(labels or []):
            first = labels[seen.setdefault(class_key(label), i)]
            if seen[class_key(label)] != i:
                a, b = (ascii(label), ascii(first)) if looks_same(label, first) else (repr(label), repr(first))
                what = "is listed twice" if label == first else f"is another spelling of {b}"
                raise ValueError(f"label {a} {what}; expected each class once in labels")
        return labels


def labels_of(cfg, records) -> list[str]:
    """cfg.task.labels, or the sorted set of labels in the train records."""
    if cfg.task.labels:
        return list(cfg.task.labels)
    seen = set()
    for rec in records:
        seen.update(rec.label if isinstance(rec.label, list) else [rec.label])
    return sorted(str(x) for x in seen)


def _label_fn(cfg, labels: list[str]):
    from mgtrainer.errors import MgtError

    index = {name: i for i, name in enumerate(labels)}

    def fn(rec):
        values = rec.label if isinstance(rec.label, list) else [rec.label]
        for v in values:
            if str(v) not in index:
                raise MgtError(f"{rec.source}: unknown label '{v}' (label); expected one of {', '.join(labels)}")
        if cfg.task.multi_label:
            vec = [0.0] * len(labels)
            for v in values:
                vec[index[str(v)]] = 1.0
            return vec
        if len(values) != 1:
            raise MgtError(f"{rec.source}: {len(values)} labels (label); expected one (or task.multi_label: true)")
        return index[str(values[0])]

    return fn


def encode(cfg, tok, records, labels: list[str] | None = None):
    from mgtrainer.driver.tokenize import encode_texts

    labels = labels or labels_of(cfg, records)
    return encode_texts(tok, records, cfg.data.cutoff_len, _label_fn(cfg, labels))


def _predict(logits, multi_label: bool, threshold: float):
    import numpy as np

    if multi_label:
        return (1 / (1 + np.exp(-logits)) >= threshold).astype(int)
    return logits.argmax(-1)


def metrics_fn(cfg, labels: list[str], details: dict):
    """compute_metrics for the Trainer; per-class report and confusion matrix land in `details`."""
    from mgtrainer.driver.metrics import classification_metrics

    def compute(pred):
        logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        gold = pred.label_ids.astype(int)
        scalars, more = classification_metrics(_predict(logits, cfg.task.multi_label, cfg.task.threshold), gold,
                                               labels, cfg.task.multi_label)
        details.update(more)
        return scalars

    return compute


def _trained_labels(model_dir) -> list[str]:
    """A trained classifier's own label order: the manifest's (an unmerged LoRA final/ has no
    config.json), else config.json's id2label."""
    from pathlib import Path

    from transformers import AutoConfig

    from mgtrainer import manifest

    labels = manifest.read(model_dir).labels if (Path(model_dir) / manifest.FILENAME).is_file() else None
    if labels:
        return list(labels)
    conf = AutoConfig.from_pretrained(model_dir)
    return [conf.id2label[i] for i in range(conf.num_labels)]


def _model_and_data(cfg, splits, model_dir=None):
    from mgtrainer.driver import model as dm

    src = cfg.model if model_dir is None else cfg.model.model_copy(update={"name_or_path": str(model_dir)})
    tok = dm.load_tokenizer(src, HEAD)
    labels = labels_of(cfg, splits.train) if model_dir is None else _trained_labels(model_dir)
    model = dm.load_model(src, HEAD, tok, labels, cfg.task.multi_label)
    return splits, labels, tok, model


def run(cfg, data) -> dict:
    """Fine-tune a classifier; write final/ + manifest, eval_report.json, metrics.jsonl and plots."""
    from mgtrainer.driver import collate, run as dr, trainer as dt
    from mgtrainer.driver.metrics import scalar_metrics
    from mgtrainer.driver.model import apply_finetuning
    from mgtrainer import preview
    from mgtrainer.driver.eval_details import EvalDetails
    from mgtrainer.driver.watch import add_before_watchers

    dr.start(cfg)
    splits, labels, tok, model = _model_and_data(cfg, data)
    model = apply_finetuning(model, cfg.lora, HEAD)
    train_set, eval_set = encode(cfg, tok, splits.train, labels), encode(cfg, tok, splits.eval, labels)
    print(train_set.summary("train") + (f"; {eval_set.summary('eval')}" if splits.eval else ""))
    preview.show(tok, train_set, cfg.train.preview_samples)
    details: dict = {}
    trainer = dt.build_trainer(cfg, model, tok, train_set.rows, eval_set.rows, collate.collator(tok, HEAD),
                               metrics_fn(cfg, labels, details), default_metric="accuracy")
    add_before_watchers(trainer, EvalDetails(cfg.train.output_dir, details))  # per-class report at every eval
    dt.train(trainer, cfg)
    metrics = scalar_metrics(dt.final_eval(trainer)) if eval_set.rows else {}
    return dr.conclude(trainer, tok, cfg, HEAD, metrics, details, show=_print_result, labels=labels,
                       multi_label=cfg.task.multi_label)


def _print_result(metrics: dict) -> None:
    if "eval_accuracy" in metrics:
        print(f"eval accuracy {metrics['eval_accuracy']:.4f}  macro-F1 {metrics['eval_macro_f1']:.4f}")


def evaluate(cfg, data, model_dir) -> dict:
    """Accuracy, macro-F1, per-class report and confusion matrix of model_dir on the eval split."""
    from mgtrainer.driver import collate, trainer as dt
    from mgtrainer.driver.metrics import scalar_metrics

    splits, labels, tok, model = _model_and_data(cfg, data, model_dir)
    eval_set = encode(cfg, tok, splits.eval or splits.train, labels)
    details: dict = {}
    trainer = dt.build_trainer(cfg, model, tok, None, eval_set.rows, collate.collator(tok, HEAD),
                               metrics_fn(cfg, labels, details))
    metrics = scalar_metrics(trainer.evaluate())
    _print_result(metrics)
    return {**metrics, **details}


# -- serving: vLLM's classify runner; predict adds the label(s) and {label: probability} ---------------
def serve_settings(manifest) -> dict:
    """The activation follows problem_type (softmax vs per-label sigmoid)."""
    kind = "multi_label_classification" if manifest.multi_label else "single_label_classification"
    return {"hf_overrides": {"problem_type": kind}}


def request(row, manifest, tok) -> str:
    return first(row, TEXT_KEYS, "text")


def call(engine, requests: list, max_new_tokens: int) -> list:
    return engine.classify(requests)


def response(output, manifest, tok) -> dict:
    labels = manifest.labels or [str(i) for i in range(len(output))]
    probs = {label: round(float(p), 6) for label, p in zip(labels, output)}
    if manifest.multi_label:
        return {"prediction": [lab for lab, p in probs.items() if p >= 0.5], "probabilities": probs}
    return {"prediction": max(probs, key=probs.get), "probabilities": probs}


def probe(manifest) -> list[dict]:
    return PROBE


def served(post, rows: list, requests: list) -> tuple[str, list]:
    return "/classify", classify_probs(post, requests)


def compare(endpoint: str, ref: list, got: list, eos: set[int]) -> Verdict:
    return max_abs_diff(endpoint, ref, got, "max |prob diff|")
