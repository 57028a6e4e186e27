"""The one re-exec helper of the command line: run here when this interpreter has what a verb needs, else
re-run the same command in the env that has it (mgtrainer.env builds it on demand)."""

from __future__ import annotations

import importlib.util
import sys


def missing(modules: list[str]) -> list[str]:
    """The modules of `modules` this interpreter cannot find (nothing is imported)."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def in_env(profile: str, modules: list[str], argv: list[str] | None = None) -> int | None:
    """None when `modules` import in this interpreter (the verb runs here); else this command's exit code,
    re-run in `profile`'s env. None too when this interpreter cannot run the env layer (a bare python3
    without the light core's deps, as tools/dataformat_trans.py may be): the verb then says in one line
    what it lacks."""
    try:
        import filelock  # noqa: F401 - the env layer needs the light core's own deps
        import platformdirs  # noqa: F401

        from mgtrainer.env import ensure
    except ImportError:
        return None
    return ensure(profile, modules, argv or sys.argv[1:])
