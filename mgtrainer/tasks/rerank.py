"""rerank: cross-encoder scoring (query, passage) with one logit; pointwise or listwise loss.

Rows: query + passages with relevance labels (and optional teacher scores), or embed rows (positives
label 1, negatives 0). pointwise = BCE of each pair's logit against its label (or teacher score);
listwise = softmax over one positive and group_size-1 negatives (targets: scores = soft cross-entropy against
the teacher's softmax, distillation). final/ loads with
AutoModelForSequenceClassification and sentence_transformers.CrossEncoder (raw logit as the score).
The starting model as a bi-encoder ranks the eval queries once (eval_zeroshot_*); bi_encoder_weight > 0
trains, evaluates and predicts logit + weight * that bi-encoder's cosine (references/pooling.md).
"""

from typing import Literal

from pydantic import Field, model_validator

from mgtrainer.tasks.contract import Serve, TaskConfig
from mgtrainer.driver.serving import PASSAGE_KEYS, first
from mgtrainer.driver.serving import same_scores as compare  # noqa: F401 (the contract's compare)

HEAD = "sequence_classification"
RECORD = "rerank"
SERVE = Serve(runner="pooling", convert="classify", endpoints=("/rerank", "/v1/rerank", "/score"))
STREAMING = False
DEFAULTS = {"train": {"learning_rate": 1e-4, "num_train_epochs": 2}}  # beats its zero-shot start: references/pooling.md
PROBE = [{"query": "capital of France", "passage": "Paris is the capital of France."},
         {"query": "capital of France", "passage": "The quick brown fox jumps over the lazy dog."},
         {"query": "healthy tips", "passage": "Eat a balanced diet and get enough sleep."}]


class Config(TaskConfig):
    name: Literal["rerank"] = "rerank"
    loss: Literal["pointwise", "listwise"] = Field(
        "listwise", description="pointwise: BCE per (query, passage); listwise: softmax over one positive "
        "and group_size-1 negatives per query.")
    group_size: int = Field(8, ge=2, description="Passages per query in the listwise loss (negatives are sampled "
                            "with replacement when a query has fewer).")
    targets: Literal["labels", "scores"] = Field(
        "labels", description="labels: relevance labels (pointwise: > 1 scaled by the largest label). scores: "
        "distil the rows' teacher scores (score / pos_scores, neg_scores; a cross-encoder's, or a bi-encoder's "
        "from `mgtrainer data mine-negatives`): pointwise BCE against them (outside [0, 1]: min-max scaled per "
        "query); listwise soft cross-entropy of each group against softmax(scores / teacher_temperature).")
    teacher_temperature: float = Field(1.0, gt=0, description="listwise, targets: scores: divides the teacher "
                                       "scores before their softmax (1 for FlagEmbedding's 0-100 scores).")
    zeroshot: bool = Field(True, description="Also rank the eval queries with the starting model used as a "
                           "bi-encoder (mean/last pooling, cosine) once, logged as eval_zeroshot_* beside the "
                           "trained metrics, with a warning when training ended below it.")
    bi_encoder_weight: float = Field(
        0.0, ge=0, description="> 0: the reranker's score is its logit + weight x the starting model's bi-encoder "
        "cosine, in training (the cross-encoder learns a correction of the bi-encoder) and in eval / "
        "`mgtrainer eval`; eval_ce_* rank by the logit alone. `mgtrainer predict` scores the same way (the "
        "manifest keeps the weight); final/ holds the cross-encoder alone, so `mgtrainer serve` refuses it and "
        "CrossEncoder(final) gives the logit: add weight x cosine yourself. 0 = a plain cross-encoder.")


    @model_validator(mode="after")
    def _one_listwise_target(self):
        if self.loss == "listwise" and self.targets == "scores" and self.bi_encoder_weight:
            raise ValueError("bi_encoder_weight with listwise targets: scores is not built (the bi-encoder prior "
                             "would replace the teacher's groups); expected one of them, or loss: pointwise")
        return self


def _scale(values: list[float], per_max: float | None = None) -> list[float]:
    if all(0.0 <= v <= 1.0 for v in values):
        return values
    if per_max is not None:
        return [min(max(v / per_max, 0.0), 1.0) for v in values]
    lo, hi = min(values), max(values)
    return [(v - lo) / (hi - lo) if hi > lo else 0.5 for v in values]


def pointwise_rows(cfg, records) -> list[dict]:
    """One row per (query, passage) with a target in [0, 1]."""
    from mgtrainer.errors import MgtError

    top = max((max(r.labels) for r in records), default=1.0) or 1.0
    rows = []
    for r in records:
        if cfg.task.targets == "scores":
            if not r.scores or any(s is None for s in r.scores):
                raise MgtError(f"{r.source}: no teacher score for every passage (score / pos_scores, neg_scores); "
                               "expected scores or task.targets: labels")
            targets = _scale(r.scores)
        else:
            targets = _scale(r.labels, top)
        rows += [{"query": r.query, "passage": p, "target": t} for p, t in zip(r.passages, targets)]
    return rows


def listwise_rows(records, teacher: bool = False) -> list[dict]:
    """Queries with at least one positive (label > 0) and one negative; others cannot form a group.
    teacher: + the passages' teacher scores (pos_scores, neg_scores)."""
    from mgtrainer.errors import MgtError

    rows, skipped = [], []
    for r in records:
        pos = [i for i, label in enumerate(r.labels) if label > 0]
        neg = [i for i, label in enumerate(r.labels) if label <= 0]
        if not (pos and neg):
            skipped.append(f"{r.source} (no {'positive' if not pos else 'negative'})")
            continue
        row = {"query": r.query, "pos": [r.passages[i] for i in pos], "neg": [r.passages[i] for i in neg]}
        if teacher:
            if not r.scores or any(s is None for s in r.scores):
                raise MgtError(f"{r.source}: no teacher score for every passage (score / pos_scores, neg_scores); "
                               "expected scores or task.targets: labels")
            row |= {"pos_scores": [r.scores[i] for i in pos], "neg_scores": [r.scores[i] for i in neg]}
        rows.append(row)
    if skipped:
        import sys

        first = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        print(f"note: {len(skipped)} of {len(records)} queries have no positive or no negative passage and form no "
              f"listwise group; skipped: {first}", file=sys.stderr)
    return rows


def loss_fn(cfg):
    from mgtrainer.driver.losses import distill_loss, listwise_loss, pointwise_loss
    from mgtrainer.driver.pooling import forward_chunks

    def fn(model, inputs, gather=True):
        pairs = {k: v for k, v in inputs.items() if k not in ("targets", "prior", "teacher")}
        logits = forward_chunks(pairs, lambda b: model(**b).logits[:, 0])
        if "prior" in inputs:
            logits = logits.float() + cfg.task.bi_encoder_weight * inputs["prior"].float()
        if "targets" in inputs:
            return pointwise_loss(logits, inputs["targets"])
        if "teacher" in inputs:
            return distill_loss(logits.view(-1, cfg.task.group_size), inputs["teacher"], cfg.task.teacher_temperature)
        return listwise_loss(logits, cfg.task.group_size)

    return fn


def eval_loss(cfg, records, scores: list[list[float]]) -> float:
    """The training loss on the eval queries from their scores: BCE over all pairs (pointwise), or each
    positive against all the query's negatives (listwise)."""
    import torch

    from mgtrainer.driver.losses import listwise_loss, pointwise_loss

    if cfg.task.loss == "pointwise":
        targets = torch.tensor([r["target"] for r in pointwise_rows(cfg, records)])
        return float(pointwise_loss(torch.tensor([x for s in scores for x in s]), targets))
    losses = []
    for r, s in zip(records, scores):
        neg = [x for x, label in zip(s, r.labels) if label <= 0]
        losses += [listwise_loss(torch.tensor([x] + neg), len(neg) + 1) for x, label in zip(s, r.labels) if label > 0 and neg]
    return float(torch.stack(losses).mean()) if losses else float("nan")


def per_query(flat: list[float], records) -> list[list[float]]:
    out, start = [], 0
    for r in records:
        out.append(flat[start : start + len(r.passages)])
        start += len(r.passages)
    return out


def bi_encoder_scores(cfg, records, max_len: int) -> list[list[float]]:
    """Cosine of query and passage embeddings of the starting model (cfg.model) used as a bi-encoder."""
    from mgtrainer.driver.prior import pair_cosines

    pairs = [(r.query, p) for r in records for p in r.passages]
    cos = pair_cosines(cfg.model, [q for q, _ in pairs], [p for _, p in pairs], max_len,
                       cfg.train.per_device_eval_batch_size)
    return per_query([cos[pair] for pair in pairs], records)


def metrics_fn(cfg, tok, records, max_len: int):
    """MRR@10 and NDCG@10 (and Recall@k, loss) of each eval query's passages ranked by the model, and
    (task.zeroshot) the same metrics of the starting model as a bi-encoder, computed on the first call."""
    from mgtrainer.driver.metrics import ranking_metrics
    from mgtrainer.driver.pooling import score

    zeroshot: dict = {}
    labels = [r.labels for r in records]
    w = cfg.task.bi_encoder_weight

    def fn(model):
        if (cfg.task.zeroshot or w) and not zeroshot and records:
            zeroshot["cos"] = bi_encoder_scores(cfg, records, max_len)
            if cfg.task.zeroshot:
                zs = ranking_metrics(zeroshot["cos"], labels)
                zeroshot.update({f"zeroshot_{k}": v for k, v in zs.items()})
        queries = [r.query for r in records for _ in r.passages]
        passages = [p for r in records for p in r.passages]
        flat = score(model, tok, queries, passages, max_len, cfg.train.per_device_eval_batch_size).tolist()
        scores, extra = per_query(flat, records), {}
        if w:
            extra = {f"ce_{k}": v for k, v in ranking_metrics(scores, labels).items()}
            scores = [[s + w * c for s, c in zip(ss, cs)] for ss, cs in zip(scores, zeroshot["cos"])]
        zs = {k: v for k, v in zeroshot.items() if k != "cos"}
        return ranking_metrics(scores, labels) | {"loss": eval_loss(cfg, records, scores)} | extra | zs

    return fn


def _prepare(cfg, splits, model_dir=None):
    from mgtrainer.driver.pooling_fit import load, max_length
    from mgtrainer.driver.tokenize import separate_pairs

    tok, model = load(cfg, HEAD, model_dir)
    separate_pairs(tok)
    return tok, model, splits, max_length(cfg, tok, model)


def run(cfg, data) -> dict:
    """Train the cross-encoder; write final/ (+ manifest), metrics.jsonl, plots and eval_report.json."""
    from mgtrainer.driver.collate import RerankCollator
    from mgtrainer.driver.pooling_fit import PoolingSpec, fit_pooling
    from mgtrainer.driver.run import start
    from mgtrainer.driver.save import write_cross_encoder

    start(cfg)
    tok, model, splits, max_len = _prepare(cfg, data)
    listwise = cfg.task.loss == "listwise"
    make = (lambda recs: listwise_rows(recs)) if listwise else lambda recs: pointwise_rows(cfg, recs)
    train_rows = listwise_rows(splits.train, cfg.task.targets == "scores") if listwise else make(splits.train)
    eval_rows = make(splits.eval)
    print(f"rerank ({cfg.task.loss}): {len(train_rows)} train rows from {len(splits.train)} queries, "
          f"{len(splits.eval)} eval queries, max_length {max_len}")
    collator = RerankCollator(tok, max_len, cfg.task.group_size if listwise else 0, cfg.train.seed)
    if cfg.task.bi_encoder_weight:
        collator = prior_collator(cfg, tok, splits.train, max_len)
    fused = {"bi_encoder_weight": cfg.task.bi_encoder_weight} if cfg.task.bi_encoder_weight else {}
    spec = PoolingSpec("rerank", HEAD, collator, loss_fn(cfg), metrics_fn(cfg, tok, splits.eval, max_len), "ndcg@10",
                       manifest=fused, export=lambda final: write_cross_encoder(final, max_len))
    metrics = fit_pooling(cfg, model, tok, train_rows, eval_rows, spec)
    warn_if_worse(metrics)
    return metrics


def prior_collator(cfg, tok, records, max_len: int):
    """Pair batches carrying the starting model's bi-encoder cosine ("prior"), for bi_encoder_weight > 0."""
    from mgtrainer.driver.collate import RerankCollator
    from mgtrainer.driver.prior import PriorCollator, pair_cosines

    queries = [r.query for r in records for _ in r.passages]
    prior = pair_cosines(cfg.model, queries, [p for r in records for p in r.passages], max_len,
                         cfg.train.per_device_eval_batch_size)
    group = cfg.task.group_size if cfg.task.loss == "listwise" else 0
    return PriorCollator(RerankCollator(tok, max_len, 0, cfg.train.seed), group, prior, cfg.train.seed)


def warn_if_worse(metrics: dict, key: str = "ndcg@10") -> bool:
    """Print a warning when the trained reranker ranks the eval queries worse than its zero-shot start."""
    trained, zs = metrics.get(f"eval_{key}"), metrics.get(f"eval_zeroshot_{key}")
    if trained is None or zs is None or trained >= zs:
        return False
    print(f"WARNING: the trained reranker's {key} {trained:.4f} is below the zero-shot bi-encoder's {zs:.4f} "
          "(the starting model, cosine of mean-pooled embeddings): training made ranking worse")
    return True


def evaluate(cfg, data, model_dir) -> dict:
    """MRR@10 / NDCG@10 of model_dir on the eval queries (train queries if there is no eval)."""
    from mgtrainer.driver.pooling_fit import evaluate_pooling

    tok, model, splits, max_len = _prepare(cfg, data, model_dir)
    return evaluate_pooling("rerank", metrics_fn(cfg, tok, splits.eval or splits.train, max_len), model)


# -- serving: the head's raw logit is the relevance score (vLLM /score, /rerank) -------------------------
def serve_settings(manifest) -> dict:
    return {"pooler_config": {"use_activation": False}}


def rerank_pair(row) -> tuple[str, str]:
    """predict: query + passage / document / text."""
    return first(row, ("query",), "query"), first(row, PASSAGE_KEYS, "passage")


def request(row, manifest, tok) -> tuple[str, str]:
    return rerank_pair(row)


def call(engine, requests: list, max_new_tokens: int) -> list:
    """The head's logit per (query, passage); a model trained with bi_encoder_weight w (manifest) adds
    w x the cosine of its base model used as a bi-encoder, the score its eval ranked by."""
    queries, passages = [q for q, _ in requests], [p for _, p in requests]
    scores = engine.score(queries, passages)
    w = engine.manifest.bi_encoder_weight
    if not w or not requests:
        return scores
    from mgtrainer.driver.prior import base_cosines

    max_len = min(engine.manifest.max_length or engine.tokenizer.model_max_length, engine.tokenizer.model_max_length)
    cos = base_cosines(engine.manifest.base_model, queries, passages, max_len)
    return [s + w * c for s, c in zip(scores, cos)]


def response(output, manifest, tok) -> dict:
    return {"prediction": float(output)}


def probe(manifest) -> list[dict]:
    return PROBE


def served(post, rows: list, requests: list) -> tuple[str, list]:
    body = {"queries": [q for q, _ in requests], "documents": [p for _, p in requests]}
    data = post("/score", body)["data"]
    return "/score", [d["score"] for d in sorted(data, key=lambda d: d["index"])]
