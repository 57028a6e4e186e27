"""The command line: `--help` and `config` verbs stay light (no torch) and errors are one line, exit 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mgtrainer.cli import build_parser
from mgtrainer.config import load_config

REPO = Path(__file__).resolve().parents[1]

# Runs the real CLI (python -m mgtrainer ARGS) and reports whether torch got imported.
PROBE = """
import runpy, sys
sys.argv = ["mgtrainer", *sys.argv[1:]]
try:
    runpy.run_module("mgtrainer", run_name="__main__")
except SystemExit as exit:
    code = exit.code
print("TORCH-IMPORTED" if "torch" in sys.modules else "NO-TORCH", file=sys.stderr)
sys.exit(code)
"""


def run_cli(*args, probe=False):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-c", PROBE, *args] if probe else [sys.executable, "-m", "mgtrainer", *args]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def verbs():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "verb")
    return sorted(sub.choices)


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("stage: sft\nmodel_name_or_path: m\nlora_rank: 4\ndo_train: true\ndataset: a,b\n")
    return path


def test_help_does_not_import_torch():
    result = run_cli("--help", probe=True)
    assert result.returncode == 0, result.stderr
    assert "config" in result.stdout
    assert result.stderr.strip().endswith("NO-TORCH")


@pytest.mark.parametrize("verb", verbs())
def test_verb_help_does_not_import_torch(verb):
    result = run_cli(verb, "--help", probe=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("NO-TORCH"), f"`mgtrainer {verb} --help` imported torch"


def test_config_show_does_not_import_torch_and_prints_resolved_yaml(cfg_file):
    result = run_cli("config", "show", str(cfg_file), "learning_rate=1e-4", "train.seed=3", probe=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().endswith("NO-TORCH")
    shown = yaml.safe_load(result.stdout)
    expected = load_config(cfg_file, ["learning_rate=1e-4", "train.seed=3"]).model_dump(mode="json")
    assert shown == expected
    assert shown["lora"]["rank"] == 4 and shown["train"]["learning_rate"] == 1e-4
    assert f"note: {cfg_file}:4: ignored 'do_train'" in result.stderr


def test_config_show_json(cfg_file):
    result = run_cli("config", "show", str(cfg_file), "--format", "json", "lora_alpha=3")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["data"]["train"] == ["a", "b"] and shown["lora"]["alpha"] == 3


@pytest.mark.parametrize("args, message", [
    (["lerning_rate=1"], "override 'lerning_rate=1': unknown key 'lerning_rate' (did you mean 'learning_rate'?)"),
    (["lora.rnak=1"], "override 'lora.rnak=1': unknown key 'lora.rnak' (did you mean 'rank'?)"),
    (["learning_rate=fast"], "override 'learning_rate=fast': invalid train.learning_rate = 'fast'"),
])
def test_config_errors_are_one_line_exit_2(cfg_file, args, message):
    result = run_cli("config", "show", str(cfg_file), *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(message)
    assert len([line for line in result.stderr.splitlines() if not line.startswith("note:")]) == 1


def test_unknown_key_in_file_names_file_line_and_nearest(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("task: classify\nmodel: m\ntrain:\n  per_device_batch_size: 4\n")
    result = run_cli("config", "show", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{path}:4: unknown key 'train.per_device_batch_size' (did you mean ")
    assert "expected one of output_dir, learning_rate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_schema_writes_file(tmp_path):
    out = tmp_path / "schema.json"
    result = run_cli("config", "schema", "-o", str(out))
    assert result.returncode == 0, result.stderr
    schema = json.loads(out.read_text())
    assert schema["title"] == "mgtrainer RunConfig" and "lora" in schema["properties"]


def test_overrides_may_follow_an_option(cfg_file):
    """`config show CFG --format json k=v` (and train/eval with --model/--llamafactory) keep k=v overrides
    that argparse alone would reject after an option; anything else after it is still an error."""
    proc = run_cli("config", "show", str(cfg_file), "lora.rank=8", "--format", "json", "train.seed=7")
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["lora"]["rank"] == 8 and cfg["train"]["seed"] == 7
    proc = run_cli("config", "show", str(cfg_file), "--format", "json", "--bogus")
    assert proc.returncode == 2 and "unrecognized arguments: --bogus" in proc.stderr
    proc = run_cli("config", "schema", "x=1")
    assert proc.returncode == 2 and "unrecognized arguments: x=1" in proc.stderr


@pytest.mark.parametrize("args", [(), ("data",)])
def test_no_verb_prints_the_help_and_exits_2(args):
    """A command line that names no verb is a usage error (argparse's code 2), with the help to read."""
    proc = run_cli(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("usage: ") and "Traceback" not in proc.stderr
