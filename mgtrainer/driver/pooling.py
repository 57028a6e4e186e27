"""Token states -> one vector or one score per text: pooling, length-grouped forwards, encode and score.

What the pooling tasks (rm, embed, rerank) train and evaluate with, and what `serve --check` compares
vLLM against (mgtrainer.serve.engines uses `pool`). Losses: mgtrainer.driver.losses; collators:
mgtrainer.driver.collate; the training flow: mgtrainer.driver.pooling_fit; sentence-transformers
export: mgtrainer.driver.save.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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


def bi_encoder_pooling(model) -> str:
    """mean for masked-LM style encoders (BERT, MiniLM), last token for decoder LLMs."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    return "mean" if model.config.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES else "last"


@torch.no_grad()
def cosine_scores(model, tokenizer, queries: list[str], passages: list[str], max_length: int | None = None,
                  batch_size: int = 32, pooling: str | None = None) -> list[float]:
    """Cosine of each (query, passage) pair's embeddings by a bare encoder: a bi-encoder's score."""
    pooling = pooling or bi_encoder_pooling(model)
    texts = list(dict.fromkeys(queries + passages))
    vecs = encode(model, tokenizer, texts, pooling, True, max_length, batch_size)
    row = {t: i for i, t in enumerate(texts)}
    q = vecs[[row[t] for t in queries]]
    p = vecs[[row[t] for t in passages]]
    return (q * p).sum(-1).tolist()
