"""Who owns an output_dir, what run it holds, and which checkpoint `resume_from_checkpoint: auto` may use.

    hold(out)            the lock alone (LLaMA-Factory runs: LF keeps its own run state)
    claim(cfg)           at the start of a run (driver.run.start): lock output_dir (a second run is
                         refused, naming the holder), refuse to train over a finished or started run
                         unless train.overwrite_output_dir or a resume says so, sweep leftovers of killed
                         atomic writes, write the run record. Idempotent within one process.
    resume_path(cfg)     what train.resume_from_checkpoint resolves to: `auto` = the newest *complete*
                         checkpoint of the same run (incomplete ones skipped with a note); a checkpoint
                         of a run with another config, data or model is refused, naming what differs.

Files in output_dir: `.mgtrainer.lock` (held with fcntl.flock while a run is alive; says its pid and
command) and `mgtrainer-run.json` (the run record: command, config, data and model fingerprints). A run
that fails before writing anything leaves no folder behind (the folder is removed when it holds only
these two files). Light: standard library only (no torch import).
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import re
import shlex
import shutil
import sys
import time
from pathlib import Path

from mgtrainer import atomic
from mgtrainer.driver.ckpt_check import incomplete
from mgtrainer.errors import MgtError

LOCK = ".mgtrainer.lock"
RECORD = "mgtrainer-run.json"
HEAD_BYTES = 1 << 20  # data fingerprint: size + sha256 of the first MiB (+ mtime, recorded, not compared)
# Keys a resumed run may change: where it writes and what it shows, and how long, how often and how much
# it evaluates, logs and saves (HF's Trainer resumes with a longer max_steps or more epochs just as well).
VOLATILE = {"train.resume_from_checkpoint", "train.overwrite_output_dir", "train.preview_samples",
            "train.report_to", "train.output_dir", "train.max_steps", "train.num_train_epochs",
            "train.logging_steps", "train.eval_steps", "train.eval_strategy", "train.eval_on_start",
            "train.save_steps", "train.save_strategy", "train.save_total_limit",
            "train.per_device_eval_batch_size", "train.early_stopping_patience",
            "eval.generation_samples", "eval.max_new_tokens"}
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")

_held: dict[str, "Claim"] = {}  # resolved output_dir -> this process's claim


class Claim:
    def __init__(self, out: Path, fd: int, created: bool):
        self.out, self.fd, self.created = out, fd, created


def _main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def command_line() -> str:
    """This process's command, as the user would recognise it (`mgtrainer train cfg.yaml ...`)."""
    argv = sys.argv or ["python"]
    name = Path(argv[0]).name
    if name in ("__main__.py", "mgtrainer", "-m", "-c") or argv[0].endswith("mgtrainer/__main__.py"):
        name = "mgtrainer"
    return shlex.join([name, *argv[1:]])[:300]


# -- the lock ------------------------------------------------------------------------------------------

def _lock(out: Path) -> int:
    """flock output_dir/.mgtrainer.lock (held until this process ends); refuses when another holds it."""
    path = out / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise MgtError(f"{out}:1: output_dir is in use by another run ({_holder_soon(out)}); expected a different "
                       "train.output_dir, or wait until that run ends") from None
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "command": command_line(),
                             "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode() + b"\n")
    os.fsync(fd)
    return fd


def _holder_soon(out, wait: float = 2.0) -> str:
    """holder(), waiting up to `wait` seconds for a run that has just taken the lock to write who it is (it
    writes right after flock: read in between, the file is still empty)."""
    deadline = time.monotonic() + wait
    who = holder(out)
    while who == "pid unknown" and time.monotonic() < deadline:
        time.sleep(0.05)
        who = holder(out)
    return who


def holder(out) -> str:
    """'pid N: COMMAND' of the process holding out's lock (as it wrote it)."""
    try:
        info = json.loads((Path(out) / LOCK).read_text())
        return f"pid {info['pid']}: {info['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def locked(out) -> bool:
    """Whether a live process holds out's lock."""
    try:
        fd = os.open(Path(out) / LOCK, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


# -- claim ---------------------------------------------------------------------------------------------

def claim(cfg) -> Path:
    """Own cfg.train.output_dir for this run (see the module doc); the folder."""
    out = Path(cfg.train.output_dir)
    if out.exists() and not out.is_dir():
        raise MgtError(f"{out}:1: output_dir is a file (train.output_dir); expected a folder or a new path")
    if not _main_process():  # torchrun: rank 0 owns the folder, the others only write into it
        out.mkdir(parents=True, exist_ok=True)
        return out
    key = str(out.resolve())
    if key in _held:  # a second run in this process (tests, notebooks): same owner
        _check_and_record(cfg, out, _held[key])
        return out
    refuse_foreign(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    fd = _lock(out)  # refused: the folder is the holder's now, whoever made it; never removed here
    c = _held[key] = Claim(out, fd, created)
    try:
        atomic.sweep(out)
        _check_and_record(cfg, out, c)
    except BaseException:
        release(out)
        raise
    return out


RUN_SIGNS = (RECORD, LOCK, "metrics.jsonl", "final", "report.html", "run_info.json", "llamafactory_args.yaml",
             "trainer_log.jsonl", "lf_data")  # what a folder holding a run (ours, or LLaMA-Factory's) has


def refuse_foreign(out: Path) -> None:
    """An existing folder holding files but no sign of a run (a project folder, the data's own folder) is
    refused: the run's files would mix with them, and `overwrite_output_dir` would treat them as a run's."""
    if not out.is_dir() or any((out / name).exists() for name in RUN_SIGNS) or any(out.glob("checkpoint-*")):
        return
    names = sorted(p.name for _, p in zip(range(1000), out.iterdir()) if not p.name.startswith("."))
    if names:
        shown = ", ".join(names[:4]) + (f", ... ({len(names)} entries)" if len(names) > 4 else "")
        raise MgtError(f"{out}:1: output_dir holds files that are not a run's ({shown}) (train.output_dir); expected "
                       "a new or empty folder, or the folder of an earlier run")


def hold(out) -> Path:
    """The lock alone, for a backend that keeps its own run state (LLaMA-Factory): a second run into out
    is refused, naming the holder, until this process ends. Idempotent within one process."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MgtError(f"{out}:1: output_dir is a file (output_dir); expected a folder or a new path")
    key = str(out.resolve())
    if key not in _held:
        refuse_foreign(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    if key not in _held:
        _held[key] = Claim(out, _lock(out), created)
        if created:  # a run refused or failed before writing leaves no folder behind
            atexit.register(_drop_if_empty, out)
    return out


def _check_and_record(cfg, out: Path, c: Claim) -> None:
    t = cfg.train
    previous = read_record(out)
    started = _started(out)
    if started and not t.overwrite_output_dir:
        if not t.resume_from_checkpoint:
            raise MgtError(f"{out}:1: output_dir already holds a run ({', '.join(started)}); expected a new "
                           "train.output_dir, train.resume_from_checkpoint: auto to continue it, or "
                           "train.overwrite_output_dir: true to replace it")
        if t.resume_from_checkpoint == "auto" and not complete_checkpoints(out, quiet=True):
            _refuse_nothing_to_resume(out, started)
    record = run_record(cfg)
    if t.overwrite_output_dir and started:
        for ckpt in checkpoints(out):  # the replaced run's: `auto` must never pick them up
            shutil.rmtree(ckpt, ignore_errors=True)
        print(f"note: train.overwrite_output_dir: replacing the run in {out} ({', '.join(started)})",
              file=sys.stderr)
    elif t.resume_from_checkpoint and previous is not None and checkpoints(out):
        _refuse_mismatch(out / RECORD, previous, record)  # resuming another run's checkpoint: refused
        record["resumed_from_run"] = previous.get("started_at")
    atomic.write_text(out / RECORD, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    if c.created and not getattr(c, "atexit", False):
        c.atexit = True
        atexit.register(_drop_if_empty, out)


def _refuse_nothing_to_resume(out: Path, started: list[str]) -> None:
    """`auto` found no complete checkpoint: a finished run (final/), or only torn checkpoints (a crash while
    saving), each named with what is wrong, never called a finished run."""
    if (out / "final").is_dir():
        raise MgtError(f"{out}:1: output_dir holds a finished run ({', '.join(started)}) and no complete "
                       "checkpoint to resume; expected a new train.output_dir or "
                       "train.overwrite_output_dir: true to replace it")
    torn = checkpoints(out)
    why = "; ".join(f"{c.name}: {incomplete(c)}" for c in torn[:3])
    why += f"; and {len(torn) - 3} more" if len(torn) > 3 else ""
    raise MgtError(f"{out}:1: no complete checkpoint to resume (train.resume_from_checkpoint: auto): {why}; "
                   "expected train.overwrite_output_dir: true to start over (the incomplete checkpoints are "
                   "removed) or a new train.output_dir")


def _started(out: Path) -> list[str]:
    found = (["final/"] if (out / "final").is_dir() else []) + [p.name for p in checkpoints(out)]
    return found[:4] + ([f"... {len(found) - 4} more"] if len(found) > 4 else [])


def release(out) -> None:
    """Give up this process's claim on out (the lock; the folder, if this run made it and left nothing)."""
    c = _held.pop(str(Path(out).resolve()), None)
    if c is None:
        return
    if c.created:
        _drop_if_empty(c.out)
    os.close(c.fd)


def _drop_if_empty(out: Path) -> None:
    """Remove out when it holds nothing but our lock and run record (a run that failed before writing)."""
    try:
        names = {p.name for p in out.iterdir()}
    except OSError:
        return
    if names <= {LOCK, RECORD}:
        shutil.rmtree(out, ignore_errors=True)


# -- the run record ------------------------------------------------------------------------------------

def run_record(cfg) -> dict:
    return {"command": command_line(), "pid": os.getpid(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "config": flat_config(cfg), "data": data_fingerprint(cfg), "model": model_fingerprint(cfg)}


def read_record(out) -> dict | None:
    try:
        return json.loads((Path(out) / RECORD).read_text())
    except (OSError, ValueError):
        return None


def flat_config(cfg) -> dict:
    """The config as {dotted.key: value} (JSON values)."""
    flat: dict = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat[prefix] = value

    walk("", cfg.model_dump(mode="json"))
    return flat


def file_fingerprint(path: Path) -> dict:
    import hashlib

    st = path.stat()
    with open(path, "rb") as fh:
        head = hashlib.sha256(fh.read(HEAD_BYTES)).hexdigest()
    return {"size": st.st_size, "mtime": st.st_mtime, "sha256_head": head}


def _fingerprint(value: str) -> dict:
    p = Path(value)
    try:
        if p.is_file():
            return file_fingerprint(p)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))[:200]
            return {"files": {str(f.relative_to(p)): {"size": f.stat().st_size} for f in files}}
    except OSError as err:
        return {"unreadable": type(err).__name__}
    return {"name": value}


def data_fingerprint(cfg) -> dict:
    names = [*cfg.data.train, *cfg.data.eval]
    return {str(n): _fingerprint(str(n)) for n in names}


def model_fingerprint(cfg) -> dict:
    """The base model: config.json's hash and the weight files' sizes for a local folder, else its name."""
    name = cfg.model.name_or_path
    p = Path(name)
    if not p.is_dir():
        return {name: {"name": name}}
    out: dict = {}
    for f in sorted(p.iterdir()):
        if f.name == "config.json" or f.name.endswith((".safetensors", ".bin", ".index.json")):
            out[f.name] = file_fingerprint(f) if f.name == "config.json" else {"size": f.stat().st_size}
    return {name: out}


def differences(old: dict, new: dict) -> list[str]:
    """The keys whose values differ between two run records (config keys, data files, the model)."""
    diff = []
    oc, nc = old.get("config", {}), new.get("config", {})
    diff += sorted(k for k in set(oc) | set(nc) if k not in VOLATILE and oc.get(k) != nc.get(k))
    for part in ("data", "model"):
        o, n = old.get(part, {}), new.get(part, {})
        for k in sorted(set(o) | set(n)):
            a, b = o.get(k), n.get(k)
            if a is None or b is None:
                diff.append(f"{part} {k}")
                continue
            strip = (lambda d: {x: y for x, y in d.items() if x != "mtime"}) if part == "data" else (lambda d: d)
            if strip(a) != strip(b):
                diff.append(f"{part} {k}")
    return diff


def _refuse_mismatch(record_path: Path, old: dict, new: dict) -> None:
    diff = differences(old, new)
    if not diff:
        return
    shown = ", ".join(diff[:6]) + (f" and {len(diff) - 6} more" if len(diff) > 6 else "")
    raise MgtError(f"{record_path}:1: the checkpoints here belong to another run (differs in {shown}); expected "
                   "the same config, data and model to resume, or train.overwrite_output_dir: true (or a new "
                   "train.output_dir) to start over")


# -- checkpoints ---------------------------------------------------------------------------------------

def checkpoints(out) -> list[Path]:
    """checkpoint-N folders, newest (highest N) first."""
    out = Path(out)
    if not out.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out.iterdir() if (m := CHECKPOINT.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found, reverse=True)]


def complete_checkpoints(out, quiet: bool = False) -> list[Path]:
    """The complete checkpoints, newest first; each incomplete one is named on stderr (unless quiet)."""
    good = []
    for ckpt in checkpoints(out):
        why = incomplete(ckpt)
        if why is None:
            good.append(ckpt)
        elif not quiet:
            print(f"note: skipping incomplete checkpoint {ckpt} ({why})", file=sys.stderr)
    return good


def resume_path(cfg) -> str | None:
    """train.resume_from_checkpoint resolved: None (fresh start), or a complete checkpoint folder."""
    value = cfg.train.resume_from_checkpoint
    out = Path(cfg.train.output_dir)
    if value == "auto":
        good = complete_checkpoints(out)
        if good:
            print(f"resuming from {good[0]}", file=sys.stderr)
        return str(good[0]) if good else None
    if not value:
        return None
    ckpt = Path(value)
    if not ckpt.is_dir():
        raise MgtError(f"checkpoint '{value}' not found (train.resume_from_checkpoint); expected a "
                       "checkpoint-N folder, 'auto' or null")
    why = incomplete(ckpt)
    if why:
        raise MgtError(f"{ckpt}:1: checkpoint is incomplete ({why}) (train.resume_from_checkpoint); expected a "
                       "complete checkpoint-N folder, or 'auto' (the newest complete one)")
    theirs = read_record(ckpt.parent)
    if theirs is not None and ckpt.parent.resolve() != out.resolve():
        _refuse_mismatch(ckpt.parent / RECORD, theirs, run_record(cfg))
    return str(ckpt)
