"""Train-phase CPU inside a process bench/real_sft.py does not run itself (LLaMA-Factory's, in its own env).

bench/real_sft.py writes a sitecustomize.py that loads this file and puts its folder on PYTHONPATH for the
LLaMA-Factory side. Nothing heavy is imported at start-up: when `transformers.trainer` is first imported,
bench/suite.py's hook_train wraps Trainer.train (train-phase wall, CPU of every thread, steps, loss); at exit
the calls seen are appended as JSON lines to $REAL_SFT_TRAINS. A process that never trains writes nothing.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import json
import os
import sys
from pathlib import Path


def _suite():
    saved = list(sys.path)  # suite.py puts the repo and bench/ first on sys.path: keep this process's own
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import suite
    finally:
        sys.path[:] = saved
    return suite


class _AfterTrainer(importlib.abc.MetaPathFinder):
    """Lets `transformers.trainer` load as usual, then wraps its Trainer.train."""

    def find_spec(self, name, path, target=None):
        if name != "transformers.trainer":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            _suite().hook_train()

        spec.loader.exec_module = exec_module
        return spec


def _dump() -> None:
    trains = _suite().TRAINS if "suite" in sys.modules else []
    if trains and os.environ.get("REAL_SFT_TRAINS"):
        with open(os.environ["REAL_SFT_TRAINS"], "a") as f:
            f.writelines(json.dumps(t) + "\n" for t in trains)


if os.environ.get("REAL_SFT_TRAINS"):
    sys.meta_path.insert(0, _AfterTrainer())
    atexit.register(_dump)
