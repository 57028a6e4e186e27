"""embed: bi-encoder embeddings trained with InfoNCE over in-batch and hard negatives.

Rows: query + positives + hard negatives (FlagEmbedding pos/neg lists, negative_1..N columns, or rerank
rows split by label). Each step scores every query against all positives and sampled hard negatives of
the batch (gathered across processes under torch.distributed). final/ is a plain AutoModel folder that
sentence-transformers also loads (Transformer -> Pooling -> Normalize, instructions as prompts).
"""

from typing import Literal

from pydantic import Field

from mgtrainer.tasks.contract import Serve, TaskConfig
from mgtrainer.driver.serving import first
from mgtrainer.driver.serving import min_cosine as compare  # noqa: F401 (the contract's compare)

HEAD = "encoder"
RECORD = "embed"
SERVE = Serve(runner="pooling", convert="embed", endpoints=("/v1/embeddings", "/pooling"))
STREAMING = False
PROBE = [{"query": "capital of France"}, {"passage": "Paris is the capital of France."},
         {"text": "A journey of a thousand miles begins with a single step."}]
VLLM_POOLING = {"mean": "MEAN", "cls": "CLS", "last": "LAST"}


class Config(TaskConfig):
    name: Literal["embed"] = "embed"
    pooling: Literal["mean", "cls", "last"] | None = Field(
        None, description="How token states become one vector; None = last for decoder LLMs, mean for encoders.")
    normalize: bool = Field(True, description="L2-normalise embeddings (cosine similarity).")
    temperature: float = Field(0.05, gt=0, description="InfoNCE temperature (sentence-transformers scale = 1/T).")
    hard_negatives: int = Field(3, ge=0, description="Hard negatives per query sampled from `neg` each step "
                                "(with replacement when a row has fewer); 0 = in-batch negatives only.")
    matryoshka_dims: list[int] | None = Field(
        None, description="Matryoshka training: the loss is summed over the embeddings cut to each of these "
        "dimensions (e.g. [384, 256, 128]), so truncated vectors still rank; eval adds ndcg@10_dim<D> per dimension.")
    mini_batch_size: int = Field(0, ge=0, description="> 0 and below the batch: gradient-cached loss (GradCache, as "
                                 "sentence-transformers' CachedMultipleNegativesRankingLoss): the same loss and "
                                 "gradient as the full batch, with the activation memory of this many rows.")
    distill: float = Field(
        0.0, ge=0, description="> 0: knowledge distillation from the rows' teacher scores (pos_scores / "
        "neg_scores, FlagEmbedding's format; `mgtrainer data mine-negatives` writes its bi-encoder's): the loss "
        "adds distill x the soft cross-entropy of each query's positive + sampled negatives (cosine / "
        "temperature) against softmax(teacher scores / teacher_temperature). Every train row needs scores.")
    teacher_temperature: float = Field(1.0, gt=0, description="Divides the teacher scores before their softmax. "
                                       "Measured on WikiQA with 100 x cosine teacher scores: 1 (a teacher sharper "
                                       "than the student) 0.780 ndcg@10, 5 (= the student's scale) 0.768.")
    distill_teacher: Literal["scores", "start"] = Field(
        "scores", description="scores: the rows' pos_scores / neg_scores. start: the starting model itself "
        "(100 x its cosine of every row's query and passages, computed once before training, as "
        "mine-negatives writes): self-distillation on the rows' own negatives (measured on held-out WikiQA: "
        "+0.009 ndcg@10 over the same training without it, within run-to-run noise; references/pooling.md).")
    query_instruction: str | None = Field(None, description="Prepended to queries (a row's `prompt` wins).")
    passage_instruction: str | None = Field(None, description="Prepended to passages.")


def pooling_of(cfg, model) -> str:
    """cfg.task.pooling, or mean for (masked-LM style) encoders and last-token for decoder LLMs."""
    from mgtrainer.driver.pooling import bi_encoder_pooling

    return cfg.task.pooling or bi_encoder_pooling(model)


def rows_of(records) -> list[dict]:
    return [{"query": r.query, "pos": r.pos, "neg": r.neg or [], "prompt": r.prompt, "pos_scores": r.pos_scores,
             "neg_scores": r.neg_scores} for r in records]


def start_scores(cfg, model, tok, rows: list[dict], pooling: str, max_len: int) -> None:
    """distill_teacher: start: set every row's pos_scores / neg_scores to 100 x the starting model's own
    similarity (cosine when normalize; same instructions and pooling), the scale mine-negatives writes."""
    from mgtrainer.driver.pooling import encode

    t, bs = cfg.task, cfg.train.per_device_eval_batch_size
    qi, pi = t.query_instruction or "", t.passage_instruction or ""
    passages = list(dict.fromkeys(pi + x for r in rows for x in r["pos"] + r["neg"]))
    q = encode(model, tok, [(r["prompt"] or qi) + r["query"] for r in rows], pooling, t.normalize, max_len, bs)
    p = encode(model, tok, passages, pooling, t.normalize, max_len, bs)
    index = {x: i for i, x in enumerate(passages)}
    for r, qv in zip(rows, q):
        r["pos_scores"], r["neg_scores"] = ([100 * float(qv @ p[index[pi + x]]) for x in r[k]] for k in ("pos", "neg"))


def check_teacher(cfg, records) -> None:
    """task.distill needs teacher scores on every train row and hard negatives to compare them with."""
    from mgtrainer.errors import MgtError

    for r in records:
        if not r.pos_scores or r.neg_scores is None or not r.neg:
            raise MgtError(f"{r.source}: task.distill: no teacher scores (pos_scores, neg_scores) or no negatives "
                           "in this row; expected FlagEmbedding rows with both (mgtrainer data mine-negatives "
                           "writes them), task.distill_teacher: start, or task.distill: 0")


def corpus(cfg, rows: list[dict]) -> tuple[list[str], list[str], list[list[int]]]:
    """(queries, corpus passages, relevance per query over the corpus) built from the eval rows."""
    qi, pi = cfg.task.query_instruction or "", cfg.task.passage_instruction or ""
    index: dict[str, int] = {}
    for r in rows:
        for p in r["pos"] + r["neg"]:
            index.setdefault(p, len(index))
    relevance = []
    for r in rows:
        rel = [0] * len(index)
        for p in r["pos"]:
            rel[index[p]] = 1
        relevance.append(rel)
    return [(r["prompt"] or qi) + r["query"] for r in rows], [pi + p for p in index], relevance


def loss_fn(pooling: str, normalize: bool, temperature: float, dims: list[int] | None = None, mini_batch: int = 0,
            distill: float = 0.0, teacher_temperature: float = 1.0):
    """InfoNCE of a batch (Matryoshka: summed over truncated dims; mini_batch: gradient-cached), + distill x
    the teacher-score distillation loss when the batch carries "teacher" scores."""
    import torch
    import torch.nn.functional as F

    from mgtrainer.driver.losses import cached_loss, distill_loss, info_nce_loss, matryoshka_loss
    from mgtrainer.driver.pooling import embed

    def fn(model, inputs, gather=True):
        def run(batch):
            return embed(model, batch, pooling, False)

        def nce(q, p):
            return info_nce_loss(q, p[: q.shape[0]], p[q.shape[0] :], temperature, gather=gather)

        def kd(q, p):
            q, p = (F.normalize(x, dim=-1) if normalize else x for x in (q, p))
            b = q.shape[0]
            neg = p[b:].view(b, -1, p.shape[-1])
            student = torch.cat([(q * p[:b]).sum(-1, keepdim=True), torch.einsum("bh,bkh->bk", q, neg)], 1)
            return distill_loss(student / temperature, inputs["teacher"], teacher_temperature)

        def of(q, p):
            loss = matryoshka_loss(nce, [q, p], dims, normalize) if dims else \
                nce(*[F.normalize(x, dim=-1) if normalize else x for x in (q, p)])
            return loss + distill * kd(q, p) if distill and "teacher" in inputs else loss

        rows = inputs["query"]["input_ids"].shape[0]
        if mini_batch and mini_batch < rows and torch.is_grad_enabled():
            return cached_loss([(run, inputs["query"]), (run, inputs["passage"])], of, mini_batch)
        return of(run(inputs["query"]), run(inputs["passage"]))

    return fn


def metrics_fn(cfg, tok, rows: list[dict], pooling: str, max_len: int):
    """Recall@1/5/10, MRR@10 and NDCG@10 of each eval query over the corpus of all eval passages."""
    from mgtrainer.driver.metrics import ranking_metrics
    from mgtrainer.driver.pooling import encode

    queries, passages, relevance = corpus(cfg, rows)
    bs = cfg.train.per_device_eval_batch_size

    def fn(model):
        import torch.nn.functional as F

        q = encode(model, tok, queries, pooling, False, max_len, bs)
        p = encode(model, tok, passages, pooling, False, max_len, bs)
        out = {}
        for d in [q.shape[1]] + [d for d in cfg.task.matryoshka_dims or [] if d < q.shape[1]]:
            qd, pd = (F.normalize(x[:, :d], dim=-1) if cfg.task.normalize else x[:, :d] for x in (q, p))
            metrics = ranking_metrics(list(qd @ pd.T), relevance)
            out |= metrics if d == q.shape[1] else {f"ndcg@10_dim{d}": metrics["ndcg@10"]}
        return out

    return fn


def _prepare(cfg, splits, model_dir=None):
    from mgtrainer.driver.pooling_fit import load, max_length

    tok, model = load(cfg, HEAD, model_dir)
    return tok, model, rows_of(splits.train), rows_of(splits.eval), max_length(cfg, tok, model)


def run(cfg, data) -> dict:
    """Train the embedder; write final/ (+ sentence-transformers files and manifest), metrics and plots."""
    from mgtrainer.driver.collate import EmbedCollator
    from mgtrainer.driver.pooling_fit import PoolingSpec, fit_pooling
    from mgtrainer.driver.run import start

    start(cfg)
    tok, model, train_rows, eval_rows, max_len = _prepare(cfg, data)
    pooling, t = pooling_of(cfg, model), cfg.task
    print(f"embed: {len(train_rows)} train queries, {len(eval_rows)} eval queries, pooling {pooling}, "
          f"max_length {max_len}")
    instructions = {"query_instruction": t.query_instruction, "passage_instruction": t.passage_instruction}
    if t.distill and t.hard_negatives < 1:
        from mgtrainer.errors import MgtError

        raise MgtError("task.distill needs candidates to distil over; expected task.hard_negatives >= 1")
    if t.distill and t.distill_teacher == "start":
        start_scores(cfg, model, tok, train_rows, pooling, max_len)
    elif t.distill:
        check_teacher(cfg, data.train)
    collator = EmbedCollator(tok, max_len, t.hard_negatives, seed=cfg.train.seed, teacher=t.distill > 0,
                             **instructions)
    dims = t.matryoshka_dims
    if dims and max(dims) > model.config.hidden_size:
        from mgtrainer.errors import MgtError

        raise MgtError(f"task.matryoshka_dims {dims}: the model's embeddings have {model.config.hidden_size} "
                       "dimensions; expected dimensions up to that")
    spec = PoolingSpec("embed", HEAD, collator, loss_fn(pooling, t.normalize, t.temperature, dims, t.mini_batch_size,
                                                          t.distill, t.teacher_temperature),
                       metrics_fn(cfg, tok, eval_rows, pooling, max_len), "ndcg@10",
                       manifest={"pooling": pooling, "normalize": t.normalize, **instructions},
                       export=_sentence_transformers(model.config.hidden_size, pooling, t.normalize, max_len,
                                                     instructions))
    return fit_pooling(cfg, model, tok, train_rows, eval_rows, spec)


def _sentence_transformers(dim: int, pooling: str, normalize: bool, max_len: int, instructions: dict):
    """export(final_dir): the sentence-transformers files (Transformer -> Pooling -> Normalize)."""
    from mgtrainer.driver.save import write_sentence_transformers

    return lambda final: write_sentence_transformers(final, dim=dim, pooling=pooling, normalize=normalize,
                                                     max_length=max_len, **instructions)


def with_manifest(cfg, model_dir):
    """A trained model_dir is evaluated with the pooling, normalisation and instructions it was trained with."""
    from pathlib import Path

    from mgtrainer import manifest

    if not (Path(model_dir) / manifest.FILENAME).is_file():
        return cfg
    m = manifest.read(model_dir)
    keys = ("pooling", "normalize", "query_instruction", "passage_instruction")
    return cfg.model_copy(update={"task": cfg.task.model_copy(update={k: getattr(m, k) for k in keys})})


def evaluate(cfg, data, model_dir) -> dict:
    """Retrieval metrics of model_dir over the eval rows' corpus (train rows if there is no eval)."""
    from mgtrainer.driver.pooling_fit import evaluate_pooling

    cfg = with_manifest(cfg, model_dir)
    tok, model, train_rows, eval_rows, max_len = _prepare(cfg, data, model_dir)
    return evaluate_pooling("embed", metrics_fn(cfg, tok, eval_rows or train_rows, pooling_of(cfg, model), max_len),
                            model)


# -- serving: vLLM's embed runner with the trained pooling and normalisation ---------------------------
def serve_settings(manifest) -> dict:
    pooler = {"use_activation": bool(manifest.normalize if manifest.normalize is not None else True)}
    if manifest.pooling:
        pooler["pooling_type"] = VLLM_POOLING[manifest.pooling]
    return {"pooler_config": pooler}


def embed_text(row, manifest) -> str:
    """predict: text, or query (+ the trained query instruction), or passage / document (+ passage instruction)."""
    if row.get("text") not in (None, ""):
        return str(row["text"])
    if row.get("query") not in (None, ""):
        return (manifest.query_instruction or "") + str(row["query"])
    return (manifest.passage_instruction or "") + first(row, ("passage", "document"), "text")


def request(row, manifest, tok) -> str:
    return embed_text(row, manifest)


def call(engine, requests: list, max_new_tokens: int) -> list:
    return engine.embed(requests)


def response(output, manifest, tok) -> dict:
    return {"prediction": [float(x) for x in output]}


def probe(manifest) -> list[dict]:
    return PROBE


def served(post, rows: list, requests: list) -> tuple[str, list]:
    data = post("/v1/embeddings", {"input": requests})["data"]
    return "/v1/embeddings", [d["embedding"] for d in sorted(data, key=lambda d: d["index"])]
