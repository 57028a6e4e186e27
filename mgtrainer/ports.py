"""Ports and the processes listening on them: a free port, a busy-port refusal, who listens (Linux /proc),
and a fresh log file per server. No torch or vllm import here. Base layer: the servers (serve/vllm.py) and the
driver's process group of one (driver/shard.py) both take their free port here."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from mgtrainer.errors import MgtError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check_port_free(host: str, port: int) -> None:
    """MgtError (exit 2, one line) when something already listens on host:port. Binding with
    SO_REUSEADDR, as vLLM does, succeeds for a port whose last connections linger in TIME_WAIT but not
    for one a live server listens on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            who = listening_pids(port)
            by = f" by pid {', '.join(map(str, sorted(who)))}" if who else ""
            raise MgtError(f"{host}:{port}: port already in use{by} ({err.strerror}); expected a free --port "
                           "(or --port 0 for any free one); the running server was left untouched") from None


def instance_log(port: int) -> Path:
    """A new log file for one server: mgtrainer-vllm-PORT-XXXXXX.log in the temp folder (one per server,
    so a second server never truncates a running one's log)."""
    fd, path = tempfile.mkstemp(prefix=f"mgtrainer-vllm-{port}-", suffix=".log")
    os.close(fd)
    return Path(path)


def listening_pids(port: int) -> set[int] | None:
    """PIDs with a socket listening on `port` (Linux /proc; those we may read); None where /proc has no
    answer (another OS)."""
    inodes = set()
    found = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        found = True
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    if not found:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    pids = set()
    if not targets:
        return pids
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in targets:
                    pids.add(int(proc.name))
                    break
        except OSError:
            continue
    return pids
