"""mgtrainer.atomic: outputs appear whole or not at all; leftovers of a killed writer are swept."""

import subprocess
import sys

import pytest

from mgtrainer import atomic


def test_write_text_replaces_whole_and_leaves_no_temp(tmp_path):
    target = tmp_path / "m.json"
    target.write_text("old")
    atomic.write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "m.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.open_atomic(target) as fh:
            fh.write("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_replace_dir_swaps_folders(tmp_path):
    dest = tmp_path / "final"
    dest.mkdir()
    (dest / "a").write_text("old")
    build = atomic.temp_dir(dest)
    (build / "b").write_text("new")
    atomic.replace_dir(build, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final"]


def test_sweep_removes_what_a_killed_writer_left(tmp_path):
    code = ("import os, sys; from mgtrainer import atomic\n"
            f"d = atomic.temp_dir({str(tmp_path / 'final')!r})\n"
            "cm = atomic.open_atomic(" + repr(str(tmp_path / 'x.json')) + "); f = cm.__enter__()\n"
            "f.write('half'); f.flush()\n"
            "os._exit(9)\n")
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == 9
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and all(n.startswith(atomic.PREFIX) for n in left)
    (tmp_path / "user.txt").write_text("mine")
    assert len(atomic.sweep(tmp_path)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["user.txt"]
