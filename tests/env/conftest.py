"""Env-layer fixtures: a tiny test-only profile (one small pure-python package) and a private MGT_HOME."""

from pathlib import Path

import pytest
from envkit import make_profile


@pytest.fixture
def mgt_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "mgt_home"
    monkeypatch.setenv("MGT_HOME", str(home))
    return home


@pytest.fixture
def tiny(tmp_path) -> Path:
    return make_profile(tmp_path / "profiles")
