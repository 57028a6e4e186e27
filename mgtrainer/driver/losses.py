"""The training losses of the pooling tasks, one small function each; the docstring says the inputs.

    bradley_terry_loss   rm: rewards of chosen and rejected answers
    info_nce_loss        embed: queries against in-batch positives and hard negatives (all processes)
    pointwise_loss       rerank: BCE of each (query, passage) logit against its target in [0, 1]
    listwise_loss        rerank: softmax cross-entropy over groups of one positive and its negatives
    distill_loss         embed, rerank: soft cross-entropy of a query's candidates against a teacher's
                         score distribution (FlagEmbedding's kl_div knowledge distillation)
    matryoshka_loss      embed: a loss summed over embeddings truncated to each Matryoshka dimension
    cached_loss          embed: any loss of embeddings with gradient caching (GradCache): large batches,
                         the memory of one mini-batch

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


def distill_loss(student: torch.Tensor, teacher: torch.Tensor, teacher_temperature: float = 1.0) -> torch.Tensor:
    """Student scores (B, G) and teacher scores (B, G) of each query's G candidates -> mean over queries of
    -sum softmax(teacher / teacher_temperature) * log_softmax(student): the KL divergence from the
    teacher's distribution up to the teacher's (constant) entropy, as FlagEmbedding's kd_loss_type kl_div.
    The student's scores come already scaled (embed: cosine / temperature; rerank: logits)."""
    targets = F.softmax(teacher.float().detach() / teacher_temperature, dim=-1)
    return -(targets * F.log_softmax(student.float(), dim=-1)).sum(-1).mean()


def matryoshka_loss(loss_of, reps: list[torch.Tensor], dims: list[int], normalize: bool) -> torch.Tensor:
    """loss_of(*reps) summed over each dim d in dims, every rep cut to its first d features (then
    L2-normalised when normalize), as sentence-transformers' MatryoshkaLoss with weights 1."""
    total = 0.0
    for d in dims:
        cut = [r[:, :d] for r in reps]
        total = total + loss_of(*[F.normalize(c, dim=-1) if normalize else c for c in cut])
    return total


def cached_loss(parts: list, loss_of, mini_batch: int) -> torch.Tensor:
    """Gradient-cached loss (Gao et al. 2021, GradCache; sentence-transformers' CachedMultipleNegatives-
    RankingLoss): the value and parameter gradient of loss_of(*reps) over the whole batch, holding the
    activations of one mini-batch at a time.

    parts: [(run, batch)]: run(sub_batch) -> embeddings (n, H) of a tokenised sub-batch (rows
    [i, i + mini_batch)). Pass 1 embeds without grad, then the loss's gradient w.r.t. every embedding
    is cached; the returned loss's backward re-embeds each mini-batch with grad (same RNG state, so the
    same dropout) and back-propagates the cached gradient into the parameters.
    """
    states, reps = [], []
    with torch.no_grad():
        for run, batch in parts:
            st, out = [], []
            for sub in _minibatches(batch, mini_batch):
                st.append(_rng_state())
                out.append(run(sub))
            states.append(st)
            reps.append(torch.cat(out).detach().requires_grad_())
    with torch.enable_grad():
        loss = loss_of(*reps)
        grads = torch.autograd.grad(loss, reps)
    out = loss.detach().requires_grad_()

    def backward(grad_output):
        with torch.enable_grad():
            for (run, batch), grad, st in zip(parts, grads, states):
                start = 0
                for sub, state in zip(_minibatches(batch, mini_batch), st):
                    with _restored_rng(state):
                        emb = run(sub)
                    (emb * grad[start : start + emb.shape[0]].to(emb.dtype)).sum().mul(grad_output).backward()
                    start += emb.shape[0]
        return grad_output

    out.register_hook(backward)
    return out


def _minibatches(batch: dict, size: int):
    n = batch["input_ids"].shape[0]
    for i in range(0, n, size):
        yield {k: v[i : i + size] if torch.is_tensor(v) else v for k, v in batch.items()}


def _rng_state():
    return torch.get_rng_state(), [torch.cuda.get_rng_state(d) for d in range(torch.cuda.device_count())]


class _restored_rng:
    """Run a block with a saved RNG state (dropout masks as in pass 1), then restore the current one."""

    def __init__(self, state):
        self.state = state

    def __enter__(self):
        self.saved = _rng_state()
        torch.set_rng_state(self.state[0])
        for d, s in enumerate(self.state[1]):
            torch.cuda.set_rng_state(s, d)

    def __exit__(self, *exc):
        torch.set_rng_state(self.saved[0])
        for d, s in enumerate(self.saved[1]):
            torch.cuda.set_rng_state(s, d)


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
