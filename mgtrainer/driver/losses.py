"""The training losses of the pooling tasks, one small function each; the docstring says the inputs.

    bradley_terry_loss   rm: rewards of chosen and rejected answers
    info_nce_loss        embed: queries against in-batch positives and hard negatives (all processes)
    pointwise_loss       rerank: BCE of each (query, passage) logit against its target in [0, 1]
    listwise_loss        rerank: softmax cross-entropy over groups of one positive and its negatives

Each returns a scalar tensor (a batch mean); the trainer (mgtrainer.driver.pooling_fit) only calls it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
