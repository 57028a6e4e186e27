"""Driver-test fixtures: a SIGTERM in the middle of a real training run (what a preempting scheduler sends)."""

import os
import signal

import pytest
from transformers import TrainerCallback


class KillAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.fixture
def sigterm_at(monkeypatch):
    """sigterm_at(run, cfg, step): run(cfg) gets SIGTERM when training reaches `step`; returns its exit code."""
    from mgtrainer.driver import trainer as dt

    build = dt.build_trainer

    def go(run, cfg, step: int) -> int:
        def with_kill(*args, **kwargs):
            trainer = build(*args, **kwargs)
            trainer.add_callback(KillAt(step))
            return trainer

        monkeypatch.setattr(dt, "build_trainer", with_kill)
        try:
            with pytest.raises(SystemExit) as stop:
                run(cfg)
        finally:
            monkeypatch.setattr(dt, "build_trainer", build)
        return stop.value.code

    return go
