"""In-batch negatives across processes: 2 gloo processes give the single-process loss and gradient."""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from mgtrainer.driver.losses import gather_rows, info_nce_loss


def global_batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g), torch.randn(8, 8, generator=g)


def loss_and_grad(q, pos, neg):
    """A tiny 'encoder' (one linear layer, fixed init) so parameter gradients can be compared."""
    torch.manual_seed(1)
    enc = torch.nn.Linear(8, 8)
    emb = lambda x: F.normalize(enc(x), dim=-1)  # noqa: E731
    loss = info_nce_loss(emb(q), emb(pos), emb(neg), temperature=0.05)
    loss.backward()
    return loss.detach(), enc.weight.grad


def worker(rank, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    q, pos, neg = global_batch()
    loss, grad = loss_and_grad(q[2 * rank : 2 * rank + 2], pos[2 * rank : 2 * rank + 2], neg[4 * rank : 4 * rank + 4])
    ragged = gather_rows(torch.full((rank + 1, 2), float(rank)))[0]  # sizes 1 and 2
    torch.save({"loss": loss, "grad": grad, "ragged": ragged}, f"{out}/{rank}.pt")
    # both ranks done before either tears gloo down: a rank that exits while the other's last collective is
    # still in flight can abort it ("terminate called without an active exception", seen once in CI)
    dist.barrier()
    dist.destroy_process_group()


def test_two_processes_equal_single_process(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(port, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"{r}.pt") for r in range(2)]
    loss, grad = loss_and_grad(*global_batch())
    # DDP averages gradients over processes; the reported loss is the mean of the per-process losses.
    assert torch.allclose((ranks[0]["loss"] + ranks[1]["loss"]) / 2, loss, atol=1e-6)
    assert torch.allclose((ranks[0]["grad"] + ranks[1]["grad"]) / 2, grad, atol=1e-6)
    assert ranks[0]["ragged"].tolist() == [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]
