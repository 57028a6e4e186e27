"""Env-layer fixtures: a tiny test-only profile (one small pure-python package) and a private MGT_HOME."""

from pathlib import Path

import pytest
from envkit import make_profile


@pytest.fixture(scope="session")
def uv() -> str:
    """The uv mgtrainer uses (MGT_UV, PATH, or the one it pip-installs into its own tools): never a bare
    `uv`, so the suite passes on a machine that has only Python."""
    from mgtrainer.env.sources import uv_exe

    return uv_exe()


@pytest.fixture
def mgt_home(tmp_path, monkeypatch, uv) -> Path:
    """A private MGT_HOME; its builds use the session's uv (else each would pip-install its own)."""
    home = tmp_path / "mgt_home"
    monkeypatch.setenv("MGT_HOME", str(home))
    monkeypatch.setenv("MGT_UV", uv)
    return home


@pytest.fixture
def tiny(tmp_path) -> Path:
    return make_profile(tmp_path / "profiles")
