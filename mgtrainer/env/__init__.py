"""Per-backend uv environments built on demand (see references/env.md).

    python(profile) -> Path        the built env's interpreter (builds it first if needed)
    ensure(profile, modules, argv) -> int | None
        None when `modules` import here; else runs `python -m mgtrainer *argv` in the profile's env
        (building it first) and returns its exit code.
    run(profile, cmd) -> int       runs a command inside the env, returns its exit code; the command is
                                   owned: it dies with us and gets the signals we get (run_owned)
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from mgtrainer.errors import MgtError

__all__ = ["python", "ensure", "run", "env_path"]


def env_path(profile: str, quiet: bool = False) -> Path:
    """The built env's folder (building it first if needed)."""
    from mgtrainer.env.build import ensure_built
    from mgtrainer.env.profiles import load_profile

    return ensure_built(load_profile(profile), quiet=quiet)


def python(profile: str) -> Path:
    """The interpreter of `profile`'s env, building the env on demand."""
    return env_path(profile) / "bin" / "python"


def run(profile: str, cmd: list[str], on_stderr=None) -> int:
    """Run `cmd` with the env's bin/ first on PATH (VIRTUAL_ENV and MGT_ENV set); its exit code."""
    import shutil

    from mgtrainer.env.build import run_env
    from mgtrainer.env.profiles import load_profile

    if not cmd:
        raise MgtError("<command line>:1: no command to run; expected `mgtrainer env run PROFILE -- CMD ...`")
    env = env_path(profile)
    exe = shutil.which(cmd[0], path=str(env / "bin")) or cmd[0]
    return run_owned([exe, *cmd[1:]], run_env(env, load_profile(profile).name), cmd[0], env, on_stderr)


FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def run_owned(argv: list[str], environ: dict | None = None, name: str | None = None, where=None,
              on_stderr=None) -> int:
    """Run argv as a child this process owns; its exit code (128 + N when killed by signal N).

    - the child dies with us, even when we are SIGKILLed (Linux PR_SET_PDEATHSIG: it gets SIGTERM, which
      a trainer turns into a checkpoint; see driver/callbacks.py);
    - SIGTERM, SIGHUP, SIGQUIT and SIGINT sent to us are passed on to the child, and we wait for it to
      end (a terminal's Ctrl-C already reaches the whole foreground group: that one is not sent twice).
    - on_stderr(line), if given, sees each line of the child's stderr (which still reaches ours).
    """
    parent = os.getpid()
    previous = {}
    proc = None
    pending: list[int] = []

    def forward(signum, frame):
        if signum == signal.SIGINT and _terminal_delivered():
            return
        if proc is None:
            pending.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    for sig in FORWARDED:
        with contextlib.suppress(ValueError, OSError):  # not the main thread: leave signals alone
            previous[sig] = signal.signal(sig, forward)
    try:
        try:
            proc = subprocess.Popen(argv, env=environ, preexec_fn=lambda: _die_with(parent),
                                    stderr=subprocess.PIPE if on_stderr else None)
        except FileNotFoundError:
            raise MgtError(f"<command line>:1: command not found ({name or argv[0]}); expected a program in "
                           f"{where}/bin or on PATH") from None
        tee = _tee(proc.stderr, on_stderr) if on_stderr else None
        for signum in pending:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)
        code = _wait(proc)
        if tee is not None:
            tee.join(10)
    finally:
        _reap(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code == -signal.SIGKILL and signal.SIGKILL not in pending:
        print(killed_line(name or Path(argv[0]).name), file=sys.stderr)
    return code if code >= 0 else 128 - code


def killed_line(name: str) -> str:
    """How a child killed with SIGKILL from outside ended, and the likeliest cause: the out-of-memory killer
    (its peak RSS against the memory it could have)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss >> 10  # the largest child we waited for
    limit = _memory_limit_mib()
    return (f"mgtrainer: {name} was killed by signal 9 (SIGKILL) from outside; the kernel's out-of-memory killer does "
            f"this when memory runs out (peak RSS {peak} MiB of {limit} MiB here; `dmesg | grep -i oom` tells); "
            "expected a smaller batch or model, or more memory; `resume_from_checkpoint: auto` continues from the "
            "last complete checkpoint")


def _memory_limit_mib() -> int:
    """The memory a process here may use: the cgroup's limit when one is set, else the machine's."""
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            return int(text) >> 20
    except OSError:
        pass
    return (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) >> 20


def _wait(proc) -> int:
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # a handler installed by someone else: keep waiting for the child
            continue


def _reap(proc) -> None:
    """We are leaving on an error: do not leave the child behind (SIGTERM, 30 s, then SIGKILL)."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _tee(stream, on_line):
    """A thread copying stream's lines to our stderr and to on_line."""
    import threading

    def copy():
        for raw in stream:
            line = raw.decode(errors="replace")
            sys.stderr.write(line)
            sys.stderr.flush()
            on_line(line.rstrip("\n"))

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def _terminal_delivered() -> bool:
    """True when our process group is the terminal's foreground group: a Ctrl-C there reached the child
    (same group) directly."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


def _die_with(parent: int) -> None:
    """In the child, before exec: SIGTERM when `parent` dies (Linux), even by SIGKILL; if it already
    died between fork and here, SIGTERM now."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def ensure(profile: str, modules: list[str], argv: list[str]) -> int | None:
    """None if `modules` import in this interpreter; else the exit code of `python -m mgtrainer *argv`
    run in `profile`'s env (built on demand)."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - ImportError, or a broken build (OSError, RuntimeError)
            missing.append(f"{name} ({type(err).__name__}: {err})")
    if not missing:
        return None
    if os.environ.get("MGT_ENV") == Path(str(profile)).name:
        raise MgtError(f"{sys.prefix}:1: already in env {profile} but cannot import {', '.join(missing)}; "
                       f"expected the env to provide them (try `mgtrainer env doctor {profile}`)")
    print(f"mgtrainer: {', '.join(m.split(' ')[0] for m in missing)} not importable here; "
          f"running in the {profile} env", file=sys.stderr, flush=True)
    # -P: a folder named `mgtrainer` in the current folder must not shadow the env's mgtrainer
    return run(profile, ["python", "-P", "-m", "mgtrainer", *argv])
