"""Faults of the machine on real small file systems (tmpfs mounts; CI runs as root): a full disk as safetensors,
torch and plain writes report it, a run into a read-only folder, a run whose checkpoints cannot fit. Each is one
line naming where and the free space, exit 2, no traceback (issue 31)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_run_safety import _cli, _data, _write_config

from mgtrainer.faults import machine_fault


def test_a_full_disk_in_each_library_is_one_line_with_the_free_space(mount, tmp_path):
    import torch
    from safetensors.torch import save_file

    disk = mount(tmp_path / "disk", 1)
    big = torch.zeros(1 << 20)  # 4 MiB
    faults = []
    for write in (lambda: save_file({"w": big}, str(disk / "model.safetensors")),
                  lambda: torch.save({"w": big}, disk / "optimizer.pt"),
                  lambda: (disk / "metrics.jsonl").write_bytes(b"x" * (4 << 20))):
        with pytest.raises(Exception) as err:  # noqa: PT011 - each library raises its own type
            write()
        faults.append(machine_fault(err.value, disk))
    for line in faults:
        assert line is not None and "cannot write (no space left on the device);" in line, faults
        assert "MiB free there; expected free space there" in line and "resume_from_checkpoint: auto" in line
    assert machine_fault(ValueError("a bug, not the machine"), disk) is None


def test_an_io_error_and_a_quota_are_one_line_each(tmp_path):
    """EIO from the kernel itself (a write to an unmapped address of /proc/self/mem); EDQUOT as the errno a
    quota-limited file system raises (this kernel's tmpfs has no quotas to fill, so it is built by hand)."""
    import errno
    import os

    fd = os.open("/proc/self/mem", os.O_RDWR)
    try:
        with pytest.raises(OSError) as err:
            os.pwrite(fd, b"x", 8)
    finally:
        os.close(fd)
    assert err.value.errno == errno.EIO
    assert machine_fault(err.value, tmp_path) == (f"{tmp_path}: cannot write (I/O error (the disk or the network file "
                                                  "system failed)); expected a healthy disk; check `dmesg`")
    quota = OSError(errno.EDQUOT, "Disk quota exceeded", str(tmp_path / "model.safetensors"))
    wrapped = RuntimeError("the trainer's save failed")
    wrapped.__cause__ = quota  # as a library re-raises it, many frames up
    assert machine_fault(wrapped, tmp_path).startswith(f"{tmp_path / 'model.safetensors'}: cannot write (disk quota "
                                                       "exceeded); ")
    line = machine_fault(RuntimeError("Error while serializing: I/O error: (os error 122)"), tmp_path)
    assert line.startswith(f"{tmp_path}: cannot write (disk quota exceeded); ")
    assert "MiB free there; expected room under the quota" in line


def test_a_run_into_a_read_only_folder_is_one_line(mount, tiny_qwen2, shared_data, tmp_path):
    disk = mount(tmp_path / "ro", 4, read_only=True)
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, _data(shared_data), disk / "run")
    proc = _cli("train", cfg)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    want = f"{disk / 'run'}: cannot write (read-only file system); expected a writable folder"
    assert proc.stderr.strip().splitlines()[-1] == want


def test_a_run_whose_checkpoints_cannot_fit_is_refused_before_the_first_step(mount, tiny_qwen2, shared_data,
                                                                               tmp_path):
    from mgtrainer.app import runs
    from mgtrainer.config import load_config
    from mgtrainer.errors import MgtError

    disk = mount(tmp_path / "small", 2)
    out = disk / "run"
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, _data(shared_data), out, save_total_limit=2)
    with pytest.raises(MgtError) as err:  # in this process (the CLI's one line for an MgtError: tests/test_cli.py)
        runs.train(load_config(cfg))
    line = str(err.value)
    assert line.startswith(f"{out}: not enough free space for this run: about ") and "3 checkpoint(s) of" in line
    assert "MiB free (train.output_dir); expected more free space, a smaller train.save_total_limit" in line
    assert not (out / "metrics.jsonl").exists() and not list(out.glob("checkpoint-*"))


def test_data_convert_onto_a_full_disk_leaves_the_input_and_the_previous_output(mount, tmp_path):
    import json
    import sys

    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps({"instruction": f"question {i} " + "x" * 200, "output": "answer"}) + "\n"
                           for i in range(20000)))  # ~5 MiB of sharegpt to write
    disk = mount(tmp_path / "disk", 1)
    old = disk / "out.jsonl"
    old.write_text("the previous output\n")
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "data", "convert", str(src), "--to", "sharegpt", "-o",
                           str(old), "--force"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    want = f"{old}:1: cannot write (No space left on device) (-o); expected a writable output path"
    assert proc.stderr.strip() == want
    assert old.read_text() == "the previous output\n" and src.stat().st_size > 4 << 20
    assert [p.name for p in disk.iterdir()] == ["out.jsonl"]  # no temp file left behind


def test_data_pack_onto_a_full_disk_leaves_the_previous_cache_and_no_partial_one(mount, tiny_qwen2, tmp_path):
    import json
    import sys

    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"instruction": f"question {i} " + "word " * 20, "output": "answer " * 5})
                            + "\n" for i in range(3000)))  # ~1.5 MiB of token ids to write
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(json.dumps({"task": "sft", "model": {"name_or_path": str(tiny_qwen2)},
                               "data": {"train": [str(rows)], "cutoff_len": 256}}))
    disk = mount(tmp_path / "disk", 1)
    old = disk / "cache"
    old.mkdir()
    (old / "meta.json").write_text("the previous cache\n")
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "data", "pack", str(cfg), "-o", str(old)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    said = proc.stderr.strip().splitlines()[-1]
    assert said.startswith(f"{old}: cannot write (no space left on the device); ") and "MiB free there" in said, said
    assert (old / "meta.json").read_text() == "the previous cache\n"
    assert sorted(p.name for p in disk.iterdir()) == ["cache"]  # the half-written cache.partial is gone


def test_a_disk_that_fills_at_a_later_checkpoint_keeps_the_earlier_one_and_auto_resumes(mount, tiny_qwen2,
                                                                                         shared_data, tmp_path):
    from mgtrainer.driver import rundir

    disk = mount(tmp_path / "disk", 24)
    out = disk / "run"
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, _data(shared_data), out, max_steps=400, save_steps=1,
                        save_total_limit=1)
    said = _run_until_filled(cfg, disk, tmp_path / "run.log",
                             lambda: list(out.glob("checkpoint-*/trainer_state.json")))  # after the first one
    assert f"{out}: cannot write (no space left on the device); 0 MiB free there; expected free space" in said
    complete = rundir.complete_checkpoints(out, quiet=True)
    assert complete, "the earlier checkpoint was lost"
    (disk / "filler").unlink()
    step = int(complete[0].name.split("-")[1])
    done = _cli("train", cfg, "train.resume_from_checkpoint=auto", f"train.max_steps={step + 2}",
                "train.save_strategy=no")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "final" / "mgtrainer.json").is_file()


def test_a_disk_that_fills_at_the_first_checkpoint_is_never_resumed_from(mount, tiny_qwen2, shared_data, tmp_path):
    """The issue's first case: no earlier checkpoint to keep. The run stops in one line; the torn checkpoint is
    never taken for a good one: `auto` says there is nothing complete to resume (naming what the torn one lacks),
    and overwrite_output_dir starts over, removing it."""
    from mgtrainer.driver import rundir

    disk = mount(tmp_path / "disk", 24)
    out = disk / "run"
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, _data(shared_data), out, max_steps=400, save_steps=4,
                        save_total_limit=1)
    said = _run_until_filled(cfg, disk, tmp_path / "run.log",
                             lambda: (out / "metrics.jsonl").is_file())  # before the first checkpoint (step 4)
    assert f"{out}: cannot write (no space left on the device); 0 MiB free there" in said
    assert rundir.complete_checkpoints(out, quiet=True) == []
    (disk / "filler").unlink()
    torn = rundir.checkpoints(out)
    again = _cli("train", cfg, "train.resume_from_checkpoint=auto", "train.max_steps=2", "train.save_strategy=no")
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr[-3000:]
    assert f"{out}:1: no complete checkpoint to resume (train.resume_from_checkpoint: auto): {torn[0].name}: " \
        in again.stderr and "expected train.overwrite_output_dir: true to start over" in again.stderr
    done = _cli("train", cfg, "train.overwrite_output_dir=true", "train.max_steps=2", "train.save_strategy=no")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "final" / "mgtrainer.json").is_file() and not rundir.checkpoints(out)


def _run_until_filled(cfg: Path, disk: Path, log: Path, when) -> str:
    """Start a training run; once when() holds, another writer takes the rest of the disk. The run must end with
    exit 2 and exactly one 'cannot write' line, no traceback; that line is returned."""
    import time

    from test_run_safety import _start

    run = _start("train", cfg, log=log)
    deadline = time.time() + 300
    while not when() and time.time() < deadline and run.poll() is None:
        time.sleep(0.05)
    fill(disk)
    assert run.wait(300) == 2
    said = [line for line in log.read_text().replace("\r", "\n").splitlines() if "cannot write" in line]
    assert len(said) == 1 and "Traceback" not in log.read_text(), log.read_text()[-3000:]
    return said[0]


def fill(disk: Path) -> None:
    """Another writer takes every byte left on the disk."""
    with open(disk / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 16))
                fh.flush()
        except OSError:
            pass


def test_a_disk_that_fills_while_final_is_written_leaves_no_final_and_the_checkpoint(mount, tiny_qwen2, make_cfg,
                                                                                   shared_data, tmp_path, monkeypatch):
    from mgtrainer.app import runs
    from mgtrainer.driver import rundir, save
    from mgtrainer.errors import MgtError

    disk = mount(tmp_path / "disk", 24)
    out = disk / "run"
    cfg = make_cfg("sft", tiny_qwen2, _data(shared_data), overrides=[f"train.output_dir={out}"],
                   data={"max_samples": 16}, train={"max_steps": 2, "save_steps": 2, "save_total_limit": 1})
    real = save._save_model

    def filled_first(model, build, merge, *rest):  # the disk fills just as final/ is being written
        fill(disk)
        return real(model, build, merge, *rest)

    monkeypatch.setattr(save, "_save_model", filled_first)
    with pytest.raises(MgtError, match=rf"^{out}.*: cannot write \(no space left on the device\); 0 MiB free there"):
        runs.train(cfg)
    rundir.release(out)
    assert not (out / "final").exists() and not list(out.glob(".mgt-tmp*"))  # the half-written final/ is gone
    assert [p.name for p in rundir.complete_checkpoints(out, quiet=True)] == ["checkpoint-2"]


def test_an_output_folder_removed_while_the_run_writes_is_one_line(tiny_qwen2, shared_data, tmp_path):
    import shutil
    import time

    from test_run_safety import _start

    out = tmp_path / "run"
    cfg = _write_config(tmp_path / "cfg.yaml", tiny_qwen2, _data(shared_data), out, max_steps=400, save_steps=1000)
    log = tmp_path / "run.log"
    run = _start("train", cfg, log=log)
    deadline = time.time() + 300
    while not (out / "metrics.jsonl").is_file() and time.time() < deadline and run.poll() is None:
        time.sleep(0.05)
    shutil.rmtree(out)
    assert run.wait(300) == 2
    text = log.read_text()
    said = [line for line in text.replace("\r", "\n").splitlines() if "output folder was removed" in line]
    assert len(said) == 1 and "Traceback" not in text, text[-3000:]
    assert f"{out}: the output folder was removed while the run wrote into it (train.output_dir)" in said[0]
