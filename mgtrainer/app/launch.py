"""`mgtrainer train CFG --nproc-per-node N [--nnodes M --node-rank R --rdzv-endpoint HOST:PORT]`.

torchrun (torch.distributed.run) runs `python -m mgtrainer train CFG ...` once per process, inside the
train env, as a child this process owns (mgtrainer.env: signals forwarded, it dies with us). One node
without an endpoint is `--standalone`; several nodes meet through the c10d rendezvous at the endpoint
(the node whose host matches it serves the store). No restarts: a rank that fails stops the job, and
its rank, host and exit code come back as one line (parsed from torchrun's failure summary).
"""

from __future__ import annotations

import re
import signal
import sys
from dataclasses import dataclass, field

from mgtrainer.errors import MgtError


@dataclass
class Launch:
    nproc_per_node: int = 1
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None
    rdzv_id: str = "mgtrainer"


def check(launch: Launch) -> None:
    """Refuse launch flags that cannot work, naming the flag."""
    if launch.nproc_per_node < 1 or launch.nnodes < 1:
        raise MgtError("<command line>:1: --nproc-per-node and --nnodes must be >= 1")
    if not 0 <= launch.node_rank < launch.nnodes:
        raise MgtError(f"<command line>:1: --node-rank {launch.node_rank} is outside 0..{launch.nnodes - 1} "
                       "(--nnodes); expected one rank per node")
    if launch.nnodes > 1 and not launch.rdzv_endpoint:
        raise MgtError("<command line>:1: --nnodes > 1 needs --rdzv-endpoint HOST:PORT (the same on every node)")
    if launch.rdzv_endpoint and not re.fullmatch(r"[^\s:]+:\d+", launch.rdzv_endpoint):
        raise MgtError(f"<command line>:1: --rdzv-endpoint {launch.rdzv_endpoint!r}; expected HOST:PORT")


def torchrun_args(launch: Launch) -> list[str]:
    """torch.distributed.run's options for this launch."""
    args = ["--nproc-per-node", str(launch.nproc_per_node), "--max-restarts", "0"]
    if launch.nnodes == 1 and not launch.rdzv_endpoint:
        return [*args, "--standalone"]
    return [*args, "--nnodes", str(launch.nnodes), "--node-rank", str(launch.node_rank),
            "--rdzv-backend", "c10d", "--rdzv-endpoint", launch.rdzv_endpoint, "--rdzv-id", launch.rdzv_id]


@dataclass
class Failures:
    """Reads torchrun's failure summary ('rank : 1 (local_rank: 0)', 'exitcode : -9 ...') off its stderr."""
    seen: list[dict] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        text = line.strip()
        if m := re.match(r"host\s*:\s*(\S+)", text):
            self.seen.append({"host": m.group(1)})
        elif self.seen and (m := re.match(r"rank\s*:\s*(\d+) \(local_rank: (\d+)\)", text)):
            self.seen[-1].update(rank=int(m.group(1)), local_rank=int(m.group(2)))
        elif self.seen and (m := re.match(r"exitcode\s*:\s*(-?\d+)", text)):
            self.seen[-1]["exitcode"] = int(m.group(1))

    def line(self, code: int) -> str:
        failed = [f for f in self.seen if "rank" in f]
        if not failed:
            return f"mgtrainer: distributed job failed (torchrun exit code {code}); see the log above"
        parts = []
        for f in failed:
            exit_code = f.get("exitcode")
            how = (f"killed by {signal.Signals(-exit_code).name}" if exit_code is not None and exit_code < 0
                   and -exit_code in signal.Signals._value2member_map_ else f"exit code {exit_code}")
            parts.append(f"rank {f['rank']} (local rank {f['local_rank']} on {f['host']}) {how}")
        return "mgtrainer: distributed job failed: " + "; ".join(parts)


def run(launch: Launch, argv: list[str]) -> int:
    """Run `mgtrainer *argv` under torchrun in the train env (this interpreter when it has torch)."""
    from mgtrainer import env

    check(launch)
    cmd = ["-m", "torch.distributed.run", *torchrun_args(launch), "-m", "mgtrainer", *argv]
    failures = Failures()
    try:
        import torch.distributed.run  # noqa: F401 - here already: no env switch
        code = env.run_owned([sys.executable, "-P", *cmd], None, "torchrun", on_stderr=failures)
    except ImportError:
        code = env.run("train", ["python", "-P", *cmd], on_stderr=failures)
    if code != 0:
        print(failures.line(code), file=sys.stderr)
    return code
