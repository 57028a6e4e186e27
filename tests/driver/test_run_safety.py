"""Faults injected into real training runs (issue 11): the launcher killed (-9) or stopped (SIGTERM), a
kill -9 in the middle of a checkpoint save and damaged newest checkpoints, two runs into one folder, a new
run into a finished folder, a resume with another config, a run that fails before training. Real
processes and tiny models; see references/safety.md for the table."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mgtrainer.app import runs
from mgtrainer.driver import rundir
from mgtrainer.errors import MgtError

REPO = Path(__file__).resolve().parents[2]
SFT = {"data": {"max_samples": 24, "cutoff_len": 96},
       "train": {"max_steps": 6, "per_device_train_batch_size": 2, "save_steps": 100}}


def _data(shared_data) -> list[Path]:
    return [shared_data / "llama-factory" / "alpaca_en_demo.json"]


def _losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _steps(out: Path) -> list[int]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows if "loss" in r]


def _write_config(path: Path, model: Path, data: list[Path], out: Path, **train) -> Path:
    cfg = {"task": "sft", "model": {"name_or_path": str(model)},
           "data": {"train": [str(p) for p in data], "max_samples": 24, "cutoff_len": 96},
           "train": {"output_dir": str(out), "max_steps": 6, "per_device_train_batch_size": 2,
                     "logging_steps": 1, "save_steps": 100, "learning_rate": 1e-3, "preview_samples": 0,
                     "report_to": "none", **train},
           "lora": {"finetuning_type": "full"}}
    path.write_text(yaml.safe_dump(cfg))
    return path


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _cli(*args, python=None, cwd=REPO, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([python or sys.executable, "-P", "-m", "mgtrainer", *map(str, args)], cwd=cwd,
                          env=_env(), capture_output=True, text=True, timeout=timeout)


def _start(*args, python=None, cwd=REPO, log: Path) -> subprocess.Popen:
    with open(log, "w") as fh:
        return subprocess.Popen([python or sys.executable, "-P", "-m", "mgtrainer", *map(str, args)], cwd=cwd,
                                env=_env(), stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _wait_for(what, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None,
              interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode} early:\n{log.read_text()[-3000:] if log else ''}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s" + (f":\n{log.read_text()[-3000:]}" if log else ""))


def _logged(out: Path, step: int):
    def check():
        try:
            return max(_steps(out), default=0) >= step
        except (OSError, ValueError):
            return False
    return check


def _descendants(pid: int) -> set[int]:
    """pid's living descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p.name))
    found, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.add(c)
            todo.append(c)
    return found


def _holders(path: Path) -> list[str]:
    """The processes with `path` open (from /proc), for failure messages."""
    found = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and any(os.readlink(fd) == str(path) for fd in (p / "fd").iterdir()):
                cmd = (p / "cmdline").read_bytes().replace(bytes(1), b" ").decode()[:200]
                found.append(f"{p.name} {cmd}")
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


@pytest.fixture(scope="module")
def light_python() -> str:
    """The light core's interpreter (no torch): `mgtrainer train` there re-runs itself in the train env,
    the launcher of the issue."""
    out = subprocess.run(["bash", "-c", f'source "{REPO}/script/env/_bootstrap.sh" >&2 && echo "$MGT_BOOTSTRAP_PY"'],
                         capture_output=True, text=True, check=True, timeout=900)
    py = out.stdout.strip()
    assert subprocess.run([py, "-c", "import torch"], capture_output=True).returncode != 0, "not a light core"
    return py


@pytest.fixture
def shadowed(tmp_path) -> Path:
    """A working folder holding a folder named mgtrainer (the launcher must not import it)."""
    (tmp_path / "work" / "mgtrainer").mkdir(parents=True)
    (tmp_path / "work" / "mgtrainer" / "__init__.py").write_text("raise SystemExit('wrong mgtrainer')\n")
    return tmp_path / "work"


# -- the launcher --------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_launcher_stopped_or_killed_takes_the_trainer_along_and_leaves_a_resumable_checkpoint(
        how, light_python, shadowed, tiny_qwen2, shared_data, tmp_path):
    out = tmp_path / "out"
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, _data(shared_data), out, max_steps=60)
    log = tmp_path / "launcher.log"
    launcher = _start("train", cfg, python=light_python, cwd=shadowed, log=log)
    _wait_for(_logged(out, 2), 900, launcher, log)  # the first run may build the train env
    trainer = _descendants(launcher.pid)
    assert trainer, "the launcher has no child: it did not re-run itself in the train env"
    if how == "sigterm":
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(60) == 143, log.read_text()[-2000:]  # the trainer's code, passed through
        assert "SIGTERM: checkpoint saved" in log.read_text()
    else:
        launcher.kill()
        launcher.wait(30)
    deadline = time.monotonic() + 10  # a process is gone when it is reaped or a zombie and its lock is free
    while (any(map(_alive, trainer)) or rundir.locked(out)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, trainer)), f"orphans survived the launcher by 10 s: {trainer}"
    assert not rundir.locked(out), f"the lock is still held: {_holders(out / rundir.LOCK)} ({trainer})"
    ckpts = rundir.checkpoints(out)
    assert ckpts and rundir.incomplete(ckpts[0]) is None, (ckpts, log.read_text()[-2000:])
    assert not (out / "final").exists()
    stopped_at = int(ckpts[0].name.split("-")[1])
    assert 2 <= stopped_at < 60

    done = _cli("train", cfg, "train.resume_from_checkpoint=auto", python=light_python, cwd=shadowed)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming from {ckpts[0]}" in done.stderr
    assert _steps(out)[-1] == 60 and (out / "final" / "mgtrainer.json").is_file()


# -- checkpoints: kill -9 during a save, damaged newest ones -------------------------------------------

def test_kill9_during_a_checkpoint_save_then_auto_ends_like_an_uninterrupted_run(tiny_qwen2, make_cfg, shared_data,
                                                                                  tmp_path):
    plain = make_cfg("sft", tiny_qwen2, _data(shared_data), overrides=[f"train.output_dir={tmp_path / 'a'}"],
                     data=SFT["data"], train={**SFT["train"], "max_steps": 12, "save_steps": 1})
    runs.train(plain)
    rundir.release(plain.train.output_dir)

    out = tmp_path / "b"
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, _data(shared_data), out, max_steps=12, save_steps=1,
                        save_total_limit=None)
    log = tmp_path / "run.log"
    run = _start("train", cfg, log=log)
    # kill -9 the moment checkpoint-6 appears: its weights, optimizer or state are still being written
    _wait_for(lambda: (out / "checkpoint-6").is_dir(), 600, run, log, interval=0.002)
    run.kill()
    run.wait(30)
    newest = rundir.checkpoints(out)[0]
    damage = rundir.incomplete(newest)
    print(f"killed during the save of {newest.name}: {damage or 'it was complete after all'}")

    done = _cli("train", cfg, "train.resume_from_checkpoint=auto")
    assert done.returncode == 0, done.stderr[-3000:]
    if damage:
        assert f"skipping incomplete checkpoint {newest} ({damage})" in done.stderr
    a, b = _losses(Path(plain.train.output_dir)), _losses(out)
    assert b[12] == pytest.approx(a[12], rel=1e-5)


def test_auto_skips_every_kind_of_damaged_checkpoint_and_matches_the_uninterrupted_loss(
        tiny_qwen2, make_cfg, shared_data, sigterm_at, tmp_path, capfd):
    def cfg_in(name, **train):
        return make_cfg("sft", tiny_qwen2, _data(shared_data), overrides=[f"train.output_dir={tmp_path / name}"],
                        data=SFT["data"], train={**SFT["train"], "save_steps": 2, "save_total_limit": None, **train})

    plain = cfg_in("a")
    runs.train(plain)
    cfg = cfg_in("b")
    assert sigterm_at(runs.train, cfg, 3) == 143  # checkpoint-2 (save_steps) and checkpoint-4 (SIGTERM)
    out = Path(cfg.train.output_dir)
    good = out / "checkpoint-4"
    for n in (5, 6, 7):
        shutil.copytree(good, out / f"checkpoint-{n}")
    (out / "checkpoint-8").mkdir()                                    # killed right after mkdir
    (out / "checkpoint-7" / "trainer_state.json").unlink()            # killed before the state
    weights = out / "checkpoint-6" / "model.safetensors"              # killed while writing the weights
    os.truncate(weights, weights.stat().st_size // 2)
    (out / "checkpoint-5" / "optimizer.pt").write_bytes(b"")         # a 0-byte optimizer (disk full)
    sched = good / "scheduler.pt"                                     # a torn scheduler
    os.truncate(sched, sched.stat().st_size // 2)
    capfd.readouterr()

    resume = cfg.model_copy(update={"train": cfg.train.model_copy(update={"resume_from_checkpoint": "auto"})})
    runs.train(resume)
    err = capfd.readouterr().err
    for n, why in ((8, "no model weights"), (7, "trainer_state.json missing"), (6, "model.safetensors truncated"),
                   (5, "optimizer.pt is empty"), (4, "scheduler.pt unreadable")):
        assert f"skipping incomplete checkpoint {out / f'checkpoint-{n}'} ({why}" in err, err
    assert f"resuming from {out / 'checkpoint-2'}" in err
    a, b = _losses(Path(plain.train.output_dir)), _losses(out)
    assert [b[s] for s in (3, 4, 5, 6)] == pytest.approx([a[s] for s in (3, 4, 5, 6)], rel=1e-5)


def test_an_incomplete_checkpoint_named_explicitly_is_one_line(tiny_qwen2, make_cfg, tmp_path):
    ckpt = tmp_path / "checkpoint-3"
    ckpt.mkdir()
    cfg = make_cfg("sft", tiny_qwen2, [tmp_path / "x.jsonl"], train={"resume_from_checkpoint": str(ckpt)})
    with pytest.raises(MgtError, match="checkpoint is incomplete .no model weights."):
        rundir.resume_path(cfg)


def test_auto_with_only_torn_checkpoints_names_them_and_is_never_a_finished_run(tiny_qwen2, make_cfg, tmp_path):
    """A crash during the first save leaves checkpoint-N torn and no final/: `auto` names what is wrong with
    each (it used to say "a finished run"); overwrite_output_dir starts over without them."""
    out = tmp_path / "out"
    (out / "checkpoint-2").mkdir(parents=True)
    (out / "checkpoint-4").mkdir()
    (out / "checkpoint-4" / "model.safetensors").write_bytes(b"\x00" * 4)
    cfg = make_cfg("sft", tiny_qwen2, [tmp_path / "x.jsonl"], train={"resume_from_checkpoint": "auto"})
    with pytest.raises(MgtError) as err:
        rundir.claim(cfg)
    assert str(err.value) == (f"{out}:1: no complete checkpoint to resume (train.resume_from_checkpoint: auto): "
                              "checkpoint-4: model.safetensors truncated; checkpoint-2: no model weights; expected "
                              "train.overwrite_output_dir: true to start over (the incomplete checkpoints are "
                              "removed) or a new train.output_dir")
    over = make_cfg("sft", tiny_qwen2, [tmp_path / "x.jsonl"], train={"overwrite_output_dir": True})
    try:
        rundir.claim(over)
        assert rundir.checkpoints(out) == []
    finally:
        rundir.release(out)


# -- who owns the folder -------------------------------------------------------------------------------

def test_a_second_run_into_a_busy_folder_is_refused_and_the_first_is_unharmed(tiny_qwen2, shared_data, tmp_path):
    out = tmp_path / "out"
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, _data(shared_data), out, max_steps=60)
    # two runs started together (two jobs submitted by mistake): whichever claims the folder first trains,
    # the other must be refused while it runs
    runs = [_start("train", cfg, log=tmp_path / f"run{i}.log") for i in (0, 1)]
    deadline = time.monotonic() + 600
    while all(r.poll() is None for r in runs) and time.monotonic() < deadline:
        time.sleep(0.05)
    loser = next(r for r in runs if r.poll() is not None)
    winner = runs[1 - runs.index(loser)]
    winner_log = tmp_path / f"run{runs.index(winner)}.log"
    still_running = winner.poll() is None
    assert loser.returncode == 2, (tmp_path / f"run{runs.index(loser)}.log").read_text()[-3000:]
    line = _one_line((tmp_path / f"run{runs.index(loser)}.log").read_text())
    assert f"{out}:1: output_dir is in use by another run (pid {winner.pid}: mgtrainer train " in line
    assert still_running, "the first run ended before the second was refused: the test proved nothing"
    assert winner.wait(600) == 0, winner_log.read_text()[-3000:]
    assert _steps(out) == list(range(1, 61))  # one curve, nothing interleaved
    assert (out / "final" / "mgtrainer.json").is_file()
    assert rundir.read_record(out)["pid"] == winner.pid


def test_a_new_run_into_a_finished_folder_is_refused_unless_overwrite_output_dir(tiny_qwen2, shared_data, tmp_path):
    out = tmp_path / "out"
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, _data(shared_data), out, max_steps=3)
    assert _cli("train", cfg).returncode == 0
    manifest = out / "final" / "mgtrainer.json"
    before = manifest.stat().st_mtime_ns

    again = _cli("train", cfg, "train.learning_rate=0.01")
    assert again.returncode == 2
    line = _one_line(again.stderr)
    assert line.startswith(f"{out}:1: output_dir already holds a run (final/") and "overwrite_output_dir" in line
    assert manifest.stat().st_mtime_ns == before

    # the HF / LLaMA-Factory flat name works too
    flat = tmp_path / "flat.yaml"
    flat.write_text(cfg.read_text() + "overwrite_output_dir: true\n")
    replaced = _cli("train", flat, "train.learning_rate=0.01")
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    assert manifest.stat().st_mtime_ns > before
    assert rundir.read_record(out)["config"]["train.learning_rate"] == 0.01
    assert _steps(out) == [1, 2, 3]


def test_a_checkpoint_of_another_config_or_data_is_refused_naming_what_differs(tiny_qwen2, make_cfg, shared_data,
                                                                               sigterm_at, tmp_path):
    data = tmp_path / "data.json"
    shutil.copy(_data(shared_data)[0], data)
    cfg = make_cfg("sft", tiny_qwen2, [data], data=SFT["data"], train=SFT["train"])
    assert sigterm_at(runs.train, cfg, 2) == 143
    out = Path(cfg.train.output_dir)
    assert rundir.checkpoints(out)

    def resume(c, **train):
        return c.model_copy(update={"train": c.train.model_copy(update={"resume_from_checkpoint": "auto", **train})})

    with pytest.raises(MgtError, match=r"belong to another run \(differs in train.learning_rate\)"):
        runs.train(resume(cfg, learning_rate=0.5))
    data.write_text(data.read_text().replace("a", "b", 1))  # the same file, other content
    with pytest.raises(MgtError, match=rf"belong to another run \(differs in data {data}\)"):
        runs.train(resume(cfg))
    assert not (out / "final").exists()
    # an explicit checkpoint of another run's folder is checked as well
    other = make_cfg("sft", tiny_qwen2, [data], data=SFT["data"],
                     train={**SFT["train"], "learning_rate": 0.5, "output_dir": str(tmp_path / "other"),
                            "resume_from_checkpoint": str(rundir.checkpoints(out)[0])})
    with pytest.raises(MgtError, match="train.learning_rate"):
        rundir.resume_path(other)


def test_a_run_that_fails_leaves_no_folder_and_leftovers_are_swept(tiny_qwen2, shared_data, tmp_path):
    out = tmp_path / "new" / "out"
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, [tmp_path / "missing.jsonl"], out)
    failed = _cli("train", cfg)
    assert failed.returncode == 2 and "missing.jsonl" in _one_line(failed.stderr)
    assert not out.exists()

    # a killed run's temp files are removed by the next run (which holds the lock); a file of the user's kept
    out.mkdir(parents=True)
    (out / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n')  # the killed run's (a folder of a run)
    (out / ".mgt-tmp.final.x1y2").mkdir()
    (out / ".mgt-tmp.metrics.jsonl.abc").write_text("half")
    keep = out / "notes.txt"
    keep.write_text("the user's")
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, _data(shared_data), out, max_steps=2)
    done = _cli("train", cfg)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list(out.glob(".mgt-tmp.*")) and keep.read_text() == "the user's"
    record = rundir.read_record(out)
    assert set(record) >= {"command", "config", "data", "model"}
    assert record["data"][str(_data(shared_data)[0])]["size"] > 0
    assert "config.json" in record["model"][str(tiny_qwen2)]


def test_an_output_dir_that_is_a_file_is_one_line(tiny_qwen2, tmp_path):
    out = tmp_path / "out"
    out.write_text("not a folder")
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, [tmp_path / "x.jsonl"], out)
    proc = _cli("train", cfg)
    line = _one_line(proc.stderr)  # refused by the config, at the edge, before any folder is touched
    assert proc.returncode == 2 and "invalid train.output_dir" in line and "an existing file, not a folder" in line
    assert out.read_text() == "not a folder"


def test_an_output_dir_holding_files_that_are_not_a_run_is_refused_before_anything_is_written(tmp_path):
    """A project folder given as output_dir: its files would mix with the run's, and overwrite_output_dir would
    treat them as a run's. Refused naming what is there; an empty folder, a run's folder or a dotfile are fine."""
    out = tmp_path / "project"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "data").mkdir()
    with pytest.raises(MgtError, match=r"project:1: output_dir holds files that are not a run's \(data, notes.txt\) "
                                       r"\(train.output_dir\); expected a new or empty folder"):
        rundir.refuse_foreign(out)
    assert sorted(p.name for p in out.iterdir()) == ["data", "notes.txt"]  # nothing written, no lock file
    with pytest.raises(MgtError, match="output_dir holds files that are not a run's"):
        rundir.hold(out)  # the LLaMA-Factory backend's claim too
    for fine in ("empty", "dotfile", "run"):
        folder = tmp_path / fine
        folder.mkdir()
        if fine == "dotfile":
            (folder / ".gitkeep").write_text("")
        if fine == "run":
            (folder / "checkpoint-4").mkdir()
            (folder / "notes.txt").write_text("the run's own")
        rundir.refuse_foreign(folder)


def test_a_sharded_checkpoint_is_complete_only_with_every_shard_whole(tmp_path):
    import zipfile

    def safetensors(path: Path, n: int = 16):
        header = json.dumps({"w": {"dtype": "F32", "shape": [n // 4], "data_offsets": [0, n]}}).encode()
        path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(n))

    ckpt = tmp_path / "checkpoint-8"
    ckpt.mkdir()
    shards = [f"model-0000{i}-of-00002.safetensors" for i in (1, 2)]
    for name in shards:
        safetensors(ckpt / name)
    (ckpt / "model.safetensors.index.json").write_text(json.dumps({"weight_map": dict(zip("ab", shards))}))
    for name in ("optimizer.pt", "scheduler.pt"):
        with zipfile.ZipFile(ckpt / name, "w") as z:
            z.writestr("data.pkl", "x")
    (ckpt / "trainer_state.json").write_text("{}")
    assert rundir.incomplete(ckpt) is None
    os.truncate(ckpt / shards[1], 30)
    assert rundir.incomplete(ckpt) == f"model.safetensors.index.json names {shards[1]}, which is truncated"
    (ckpt / shards[1]).unlink()
    assert rundir.incomplete(ckpt) == f"model.safetensors.index.json names {shards[1]}, which is missing"


def test_a_resume_may_train_longer_but_not_differently():
    old = {"config": {"train.max_steps": 6, "train.num_train_epochs": 1.0, "train.save_steps": 2,
                      "train.learning_rate": 1e-3}}
    longer = {"config": {**old["config"], "train.max_steps": 12, "train.num_train_epochs": 3.0, "train.save_steps": 4}}
    assert rundir.differences(old, longer) == []
    other = {"config": {**longer["config"], "train.learning_rate": 2e-3}}
    assert rundir.differences(old, other) == ["train.learning_rate"]
