"""embed: bi-encoder embeddings trained with InfoNCE over in-batch and hard negatives.

Rows: query + positives + hard negatives (FlagEmbedding pos/neg lists, negative_1..N columns, or rerank
rows split by label). Each step scores every query against all positives and sampled hard negatives of
the batch (gathered across processes under torch.distributed). final/ is a plain AutoModel folder that
sentence-transformers also loads (Transformer -> Pooling -> Normalize, instructions as prompts).
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mgtrainer.tasks.contract import Serve
from mgtrainer.tasks.serving import first
from mgtrainer.tasks.serving import min_cosine as compare  # noqa: F401 (the contract's compare)

HEAD = "encoder"
RECORD = "embed"
SERVE = Serve(runner="pooling", convert="embed", endpoints=("/v1/embeddings", "/pooling"))
STREAMING = False
PROBE = [{"query": "capital of France"}, {"passage": "Paris is the capital of France."},
         {"text": "A journey of a thousand miles begins with a single step."}]
VLLM_POOLING = {"mean": "MEAN", "cls": "CLS", "last": "LAST"}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["embed"] = "embed"
    pooling: Literal["mean", "cls", "last"] | None = Field(
        None, description="How token states become one vector; None = last for decoder LLMs, mean for encoders.")
    normalize: bool = Field(True, description="L2-normalise embeddings (cosine similarity).")
    temperature: float = Field(0.05, gt=0, description="InfoNCE temperature (sentence-transformers scale = 1/T).")
    hard_negatives: int = Field(3, ge=0, description="Hard negatives per query sampled from `neg` each step "
                                "(with replacement when a row has fewer); 0 = in-batch negatives only.")
    query_instruction: str | None = Field(None, description="Prepended to queries (a row's `prompt` wins).")
    passage_instruction: str | None = Field(None, description="Prepended to passages.")


def pooling_of(cfg, model) -> str:
    """cfg.task.pooling, or mean for (masked-LM style) encoders and last-token for decoder LLMs."""
    if cfg.task.pooling:
        return cfg.task.pooling
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    return "mean" if model.config.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES else "last"


def rows_of(records) -> list[dict]:
    return [{"query": r.query, "pos": r.pos, "neg": r.neg or [], "prompt": r.prompt} for r in records]


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


def loss_fn(pooling: str, normalize: bool, temperature: float):
    from mgtrainer.driver.losses import info_nce_loss
    from mgtrainer.driver.pooling import embed

    def fn(model, inputs, gather=True):
        q = embed(model, inputs["query"], pooling, normalize)
        p = embed(model, inputs["passage"], pooling, normalize)
        n = q.shape[0]
        return info_nce_loss(q, p[:n], p[n:], temperature, gather=gather)

    return fn


def metrics_fn(cfg, tok, rows: list[dict], pooling: str, max_len: int):
    """Recall@1/5/10, MRR@10 and NDCG@10 of each eval query over the corpus of all eval passages."""
    from mgtrainer.driver.metrics import ranking_metrics
    from mgtrainer.driver.pooling import encode

    queries, passages, relevance = corpus(cfg, rows)
    bs = cfg.train.per_device_eval_batch_size

    def fn(model):
        q = encode(model, tok, queries, pooling, cfg.task.normalize, max_len, bs)
        p = encode(model, tok, passages, pooling, cfg.task.normalize, max_len, bs)
        return ranking_metrics(list(q @ p.T), relevance)

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
    collator = EmbedCollator(tok, max_len, t.hard_negatives, seed=cfg.train.seed, **instructions)
    spec = PoolingSpec("embed", HEAD, collator, loss_fn(pooling, t.normalize, t.temperature),
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
