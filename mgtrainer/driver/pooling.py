"""Shared pieces of the pooling tasks (rm, embed, rerank): pooling, losses, collators, metrics, export.

Each loss is one small function whose docstring says its inputs (sentence-transformers' habit); the
trainer only calls it. Everything here imports torch lazily or is only imported by task code at run time.
"""

from __future__ import annotations

import functools
import json
import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

ST_POOLING = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token", "last": "pooling_mode_lasttoken"}
IDENTITY = "torch.nn.modules.linear.Identity"


# ----------------------------------------------------------------------------------------- pooling
def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """hidden (B, L, H), mask (B, L) -> (B, H). Works for left and right padding (as sentence-transformers)."""
    if mode == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    if mode == "cls":
        return hidden[rows, mask.int().argmax(1)]  # first attended token
    if mode == "last":
        return hidden[rows, mask.shape[1] - 1 - mask.int().flip(1).argmax(1)]  # last attended token
    raise ValueError(f"unknown pooling {mode!r}")


def embed(model, batch: dict, pooling: str, normalize: bool) -> torch.Tensor:
    """Run a bare (AutoModel) encoder or decoder on a tokenised batch and pool its last hidden state."""
    def run(b):
        out = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"])
        return pool(out.last_hidden_state, b["attention_mask"], pooling)

    vec = forward_chunks(batch, run)
    return F.normalize(vec, dim=-1) if normalize else vec


# Padded-token price of one more forward pass, per device type. On CPU a forward costs about its token
# count, so running length-grouped sub-batches with their own padding is faster (measured in
# references/pooling.md); accelerators are not padding-bound at these sizes: one padded batch.
CHUNK_COST = {"cpu": 64}


def length_groups(lengths: list[int], cost: float) -> list[list[int]]:
    """Row indices grouped by length, shortest first, minimising padded tokens + `cost` per group.

    Dynamic programming over the distinct sorted lengths (a group is a run of rows padded to its longest).
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    ends = [j + 1 for j in range(len(order)) if j + 1 == len(order) or lengths[order[j]] != lengths[order[j + 1]]]
    best, cut = {0: 0.0}, {}
    for j in ends:
        width = lengths[order[j - 1]]
        best[j], cut[j] = min((best[i] + (j - i) * width + cost, i) for i in [0] + ends if i < j)
    groups, j = [], len(order)
    while j:
        groups.append(order[cut[j]:j])
        j = cut[j]
    return groups[::-1]


def forward_chunks(batch: dict, run) -> torch.Tensor:
    """run(sub_batch) -> per-row outputs, over length-grouped sub-batches cut to their own padding (right
    padding; left padding keeps its width), rows back in batch order: the same values with less padding."""
    mask = batch["attention_mask"]
    cost = CHUNK_COST.get(mask.device.type)
    if cost is None or mask.shape[0] < 2:
        return run(batch)
    widths = (mask.shape[1] - mask.int().flip(1).argmax(1)) * mask.any(1)  # last attended column + 1
    groups = length_groups(widths.tolist(), cost)
    if len(groups) == 1:
        return run(batch)
    parts, order = [], []
    for rows in groups:
        idx, width = torch.tensor(rows, device=mask.device), max(1, int(widths[rows].max()))
        sub = {k: v[idx, :width] if v.dim() == 2 and v.shape[1] == mask.shape[1] else v[idx]
               for k, v in batch.items() if torch.is_tensor(v)}
        parts.append(run(sub))
        order += rows
    return torch.cat(parts)[torch.argsort(torch.tensor(order, device=mask.device))]


# ------------------------------------------------------------------------------------------ losses
def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Rewards (B,) of chosen and rejected answers -> mean of -log sigmoid(r_c - r_r - margin)."""
    return -F.logsigmoid(chosen.float() - rejected.float() - margin).mean()


def info_nce_loss(q: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor | None, temperature: float,
                  gather: bool = True) -> torch.Tensor:
    """Queries q (B, H), their positives pos (B, H), hard negatives neg (N, H) or None.

    Each query is scored against every positive and negative of the (global) batch; its own positive is
    the target. Under torch.distributed the passages of all processes are gathered (with gradient), so
    the mean over processes equals the single-process loss on the global batch.
    """
    offset = 0
    if gather:
        pos, offset = gather_rows(pos)
        neg = gather_rows(neg)[0] if neg is not None else None
    cands = pos if neg is None or neg.shape[0] == 0 else torch.cat([pos, neg])
    logits = q.float() @ cands.float().T / temperature
    target = torch.arange(q.shape[0], device=q.device) + offset
    return F.cross_entropy(logits, target)


def pointwise_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Logits (B,) of (query, passage) pairs, targets (B,) in [0, 1] (labels or teacher scores) -> BCE."""
    return F.binary_cross_entropy_with_logits(logits.float(), targets.float())


def listwise_loss(logits: torch.Tensor, group_size: int) -> torch.Tensor:
    """Logits (B * G,) in groups of G passages per query, the positive first -> softmax cross-entropy."""
    groups = logits.float().view(-1, group_size)
    return F.cross_entropy(groups, torch.zeros(groups.shape[0], dtype=torch.long, device=logits.device))


def gather_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Concatenate x (n_r, H) of every process (sizes may differ), keeping gradients.

    Returns (all rows, number of rows before this process). A no-op outside torch.distributed.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    from torch.distributed.nn.functional import all_gather

    n = torch.tensor([x.shape[0]], device=x.device)
    sizes = [torch.zeros_like(n) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, n)
    sizes = [int(s) for s in sizes]
    padded = F.pad(x, (0, 0, 0, max(sizes) - x.shape[0]))
    parts = all_gather(padded)
    return torch.cat([p[:k] for p, k in zip(parts, sizes)]), sum(sizes[: dist.get_rank()])


# ----------------------------------------------------------------------------------------- metrics
def ranking_metrics(scores: list, labels: list, ks=(1, 5, 10)) -> dict[str, float]:
    """Per query: scores over its candidates and their relevance (0 = not relevant, graded allowed).

    Returns Recall@k, MRR@10 and NDCG@10 (linear gain) averaged over queries with a relevant candidate.
    """
    out: dict[str, list[float]] = {f"recall@{k}": [] for k in ks} | {"mrr@10": [], "ndcg@10": []}
    for s, rel in zip(scores, labels):
        rel = torch.as_tensor(rel, dtype=torch.float)
        if not (rel > 0).any():
            continue
        ranked = rel[torch.argsort(torch.as_tensor(s, dtype=torch.float), descending=True, stable=True)]
        hits = (ranked > 0).float()
        for k in ks:
            out[f"recall@{k}"].append(float(hits[:k].sum() / hits.sum()))
        first = int(hits.argmax())
        out["mrr@10"].append(1.0 / (first + 1) if first < 10 else 0.0)
        disc = 1.0 / torch.log2(torch.arange(2, 12, dtype=torch.float))
        dcg = (ranked[:10] * disc[: len(ranked[:10])]).sum()
        ideal = torch.sort(rel, descending=True).values[:10]
        out["ndcg@10"].append(float(dcg / (ideal * disc[: len(ideal)]).sum()))
    return {k: sum(v) / len(v) if v else 0.0 for k, v in out.items()}


def pair_metrics(chosen: torch.Tensor, rejected: torch.Tensor) -> dict[str, float]:
    """Rewards of chosen and rejected answers -> pairwise accuracy and mean reward margin."""
    diff = chosen.float() - rejected.float()
    return {"accuracy": float((diff > 0).float().mean()), "margin": float(diff.mean())}


# ---------------------------------------------------------------------------------------- encoding
def tokenize(tokenizer, texts, pairs=None, max_length: int | None = None) -> dict:
    """Tokenise texts (or text pairs) to a padded batch, truncating to max_length; token-id lists are
    only padded (they were cut by the task, e.g. rm's prompt/answer budget)."""
    if texts and not isinstance(texts[0], str):
        return tokenizer.pad({"input_ids": list(texts)}, return_tensors="pt")
    return tokenizer(texts, pairs, padding=True, truncation=True, max_length=max_length, return_tensors="pt")


@torch.no_grad()
def encode(model, tokenizer, texts: list[str], pooling: str, normalize: bool, max_length: int | None = None,
           batch_size: int = 32) -> torch.Tensor:
    """mgtrainer's own embedding of texts (what a sentence-transformers load of final/ must reproduce)."""
    model.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        batch = tokenize(tokenizer, texts[i : i + batch_size], max_length=max_length).to(model.device)
        out.append(embed(model, batch, pooling, normalize).float().cpu())
    return torch.cat(out) if out else torch.empty(0)


@torch.no_grad()
def score(model, tokenizer, texts: list[str], pairs: list[str] | None = None, max_length: int | None = None,
          batch_size: int = 32) -> torch.Tensor:
    """One-logit sequence-classification scores of texts (rm) or (query, passage) pairs (rerank)."""
    model.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        second = pairs[i : i + batch_size] if pairs is not None else None
        batch = tokenize(tokenizer, texts[i : i + batch_size], second, max_length).to(model.device)
        out.append(forward_chunks(batch, lambda b: model(**b).logits[:, 0]).float().cpu())
    return torch.cat(out) if out else torch.empty(0)


# --------------------------------------------------------------------------------------- collators
def sample(items: list, k: int, rng: random.Random) -> list:
    """k items without replacement when there are enough, else with replacement; [] when there are none."""
    if not items or k <= 0:
        return []
    return rng.sample(items, k) if len(items) >= k else [rng.choice(items) for _ in range(k)]


@dataclass
class PairCollator:
    """rm rows {"chosen", "rejected"} (texts or token ids) -> one batch: B chosen then B rejected sequences."""

    tokenizer: object
    max_length: int | None = None

    def __call__(self, rows: list[dict]) -> dict:
        texts = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
        return dict(tokenize(self.tokenizer, texts, max_length=self.max_length))


@dataclass
class EmbedCollator:
    """embed rows {"query", "pos": [..], "neg": [..], "prompt"?} -> {"query": batch, "passage": batch}.

    One positive per query (sampled) and `hard_negatives` negatives per query (sampled, with replacement
    when a row has fewer); passages are the B positives followed by the negatives.
    """

    tokenizer: object
    max_length: int | None = None
    hard_negatives: int = 3
    query_instruction: str | None = None
    passage_instruction: str | None = None
    seed: int = 0

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def __call__(self, rows: list[dict]) -> dict:
        qi, pi = self.query_instruction or "", self.passage_instruction or ""
        queries = [(r.get("prompt") or qi) + r["query"] for r in rows]
        pos = [pi + self.rng.choice(r["pos"]) for r in rows]
        neg = [pi + n for r in rows for n in sample(r["neg"] or [], self.hard_negatives, self.rng)]
        tok = lambda t: dict(tokenize(self.tokenizer, t, max_length=self.max_length))  # noqa: E731
        return {"query": tok(queries), "passage": tok(pos + neg)}


@dataclass
class RerankCollator:
    """rerank rows -> (query, passage) pair batch.

    Pointwise (group_size 0): rows {"query", "passage", "target"} -> batch + "targets".
    Listwise: rows {"query", "pos": [..], "neg": [..]} -> groups of 1 positive + group_size-1 negatives.
    """

    tokenizer: object
    max_length: int | None = None
    group_size: int = 0
    seed: int = 0

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def __call__(self, rows: list[dict]) -> dict:
        if not self.group_size:
            batch = dict(tokenize(self.tokenizer, [r["query"] for r in rows], [r["passage"] for r in rows],
                                  self.max_length))
            return batch | {"targets": torch.tensor([float(r["target"]) for r in rows])}
        queries, passages = [], []
        for r in rows:
            group = [self.rng.choice(r["pos"])] + sample(r["neg"], self.group_size - 1, self.rng)
            queries += [r["query"]] * len(group)
            passages += group
        return dict(tokenize(self.tokenizer, queries, passages, self.max_length))


# ------------------------------------------------------------------------------------------ trainer
@functools.cache
def _trainer_class():
    from transformers import Trainer

    class PoolingTrainer(Trainer):
        """A transformers Trainer whose loss and eval metrics come from the task.

        loss_fn(model, inputs, gather: bool) -> scalar loss; metrics_fn(model) -> {name: value} over the
        whole eval set (retrieval / ranking / pairwise metrics; "loss" too when it can be had from the same
        forward passes, else it is the mean loss_fn over the eval batches). evaluate() logs eval_loss + those metrics
        and fires the callbacks, so best-checkpoint selection and early stopping work as for other tasks.
        """

        def __init__(self, *args, loss_fn, metrics_fn=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_fn, self.metrics_fn = loss_fn, metrics_fn
            self.model_accepts_loss_kwargs = False  # our losses are batch means: Trainer scales for accumulation

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = self.loss_fn(model, inputs, gather=True)
            return (loss, None) if return_outputs else loss

        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval") -> dict[str, float]:
            metrics = self.metrics_fn(self.model) if self.metrics_fn else {}
            if "loss" not in metrics and (eval_dataset is not None or self.eval_dataset is not None):
                metrics["loss"] = self.eval_loss(eval_dataset)
            metrics = {f"{metric_key_prefix}_{k}": v for k, v in metrics.items()}
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            return metrics

        @torch.no_grad()
        def eval_loss(self, eval_dataset=None) -> float:
            """Mean loss over the eval batches (this process's share; no cross-process gather)."""
            self.model.eval()
            losses = [float(self.loss_fn(self.model, self._prepare_inputs(b), gather=False))
                      for b in self.get_eval_dataloader(eval_dataset)]
            self.model.train()
            return sum(losses) / max(1, len(losses))

    return PoolingTrainer


def __getattr__(name: str):
    """`PoolingTrainer` is built on first use so importing this module does not import transformers."""
    if name == "PoolingTrainer":
        return _trainer_class()
    raise AttributeError(name)


# ------------------------------------------------------------------------------------------- export
def write_json(path: Path, obj) -> None:
    """Atomic JSON write (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def write_sentence_transformers(model_dir: str | Path, *, dim: int, pooling: str, normalize: bool,
                                max_length: int, query_instruction: str | None = None,
                                passage_instruction: str | None = None) -> None:
    """Make a saved AutoModel folder loadable by sentence_transformers.SentenceTransformer.

    Transformer -> Pooling(mode) -> [Normalize]; instructions become the "query"/"document" prompts.
    """
    d = Path(model_dir)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (d / "2_Normalize").mkdir(exist_ok=True)
    write_json(d / "modules.json", modules)
    write_json(d / "sentence_bert_config.json", {"max_seq_length": max_length, "do_lower_case": False})
    write_json(d / "1_Pooling" / "config.json", {"word_embedding_dimension": dim, "include_prompt": True}
               | {key: mode == pooling for mode, key in ST_POOLING.items()})
    prompts = {k: v for k, v in (("query", query_instruction), ("document", passage_instruction)) if v}
    write_json(d / "config_sentence_transformers.json",
               {"prompts": prompts, "default_prompt_name": None,
                "similarity_fn_name": "cosine" if normalize else "dot"})


def write_cross_encoder(model_dir: str | Path, max_length: int) -> None:
    """Make a saved one-logit classifier loadable by sentence_transformers.CrossEncoder with the same scores.

    Plain text pairs (not the chat-template "message" form sentence-transformers picks for decoders with a
    chat template), the raw logit as score (Identity activation, no sigmoid), the same max length.
    """
    d = Path(model_dir)
    write_json(d / "modules.json", [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}])
    write_json(d / "sentence_bert_config.json", {
        "max_seq_length": max_length, "transformer_task": "sequence-classification", "module_output_name": "scores",
        "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}}})
    write_json(d / "config_sentence_transformers.json", {"model_type": "CrossEncoder", "activation_fn": IDENTITY,
                                                         "prompts": {}, "default_prompt_name": None})
    config = json.loads((d / "config.json").read_text())
    write_json(d / "config.json", config | {"sentence_transformers": {"activation_fn": IDENTITY}})  # ST < 6 reads this


def separate_pairs(tok) -> bool:
    """Decoder tokenizers join a (query, passage) pair with nothing between; give them `A eos B eos`.

    Set as the fast tokenizer's pair post-processor, so transformers, sentence-transformers and vLLM all
    tokenise pairs the same way from final/. Returns whether it changed the tokenizer.
    """
    from tokenizers import processors

    a, b = tok("a", add_special_tokens=False)["input_ids"], tok("b", add_special_tokens=False)["input_ids"]
    if not tok.is_fast or tok.eos_token is None or tok("a", "b")["input_ids"] != a + b:
        return False
    eos = tok.eos_token
    pair = processors.TemplateProcessing(single="$A", pair=f"$A {eos} $B:1 {eos}:1",
                                         special_tokens=[(eos, tok.eos_token_id)])
    old = tok.backend_tokenizer.post_processor
    tok.backend_tokenizer.post_processor = processors.Sequence([old, pair]) if old else pair
    return True


# -------------------------------------------------------------------------------------- task glue
def max_length(cfg, tok, model) -> int:
    """cutoff_len, capped by the model's positions and the tokenizer's own limit."""
    limits = [cfg.data.cutoff_len, getattr(model.config, "max_position_embeddings", None), tok.model_max_length]
    return min(int(x) for x in limits if x)


def load(cfg, head: str, model_dir=None):
    """(tokenizer, model) of cfg.model, or of a trained model_dir; a pad token always set."""
    from mgtrainer.driver import model as dm

    src = cfg.model if model_dir is None else cfg.model.model_copy(update={"name_or_path": str(model_dir)})
    tok = dm.load_tokenizer(src, head)
    return tok, dm.load_model(src, head, tok)


def fit(cfg, model, tok, train_rows, eval_rows, collator, loss_fn, metrics_fn, default_metric: str):
    """Build the driver's trainer around PoolingTrainer, train (resumable), final eval; -> (trainer, metrics)."""
    from mgtrainer.driver import run as dr, trainer as dt

    cls = functools.partial(_trainer_class(), loss_fn=loss_fn, metrics_fn=metrics_fn)
    trainer = dt.build_trainer(cfg, model, tok, train_rows, eval_rows, collator, default_metric=default_metric,
                               trainer_cls=cls)
    dt.train(trainer, cfg)
    last = trainer.state.log_history[-2:]  # [.., last eval, train summary] when training ended with an eval
    done = [h for h in last if "eval_loss" in h and h.get("step") == trainer.state.global_step]
    if done and not trainer.args.load_best_model_at_end:  # the final model was just evaluated
        return trainer, dr.scalar_metrics({k: v for k, v in done[-1].items() if k.startswith("eval_")})
    return trainer, dr.scalar_metrics(trainer.evaluate()) if eval_rows else {}


def print_metrics(task: str, metrics: dict) -> None:
    shown = "  ".join(f"{k.removeprefix('eval_')} {v:.4f}" for k, v in metrics.items()
                      if not k.endswith(("_runtime", "_per_second", "epoch")))
    print(f"{task} eval: {shown}")
