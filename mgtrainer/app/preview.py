"""`mgtrainer data preview CFG [k=v ...] [--num N]`: tokenise like training would, show, don't train."""

from __future__ import annotations

from mgtrainer import tasks
from mgtrainer.app.runs import load_data, load_run
from mgtrainer.errors import MgtError


def main(args) -> int:
    from mgtrainer.driver.model import load_tokenizer
    from mgtrainer.preview import show

    cfg = load_run(args.config, args.overrides or [])
    task = tasks.get(cfg.task.name)
    if not hasattr(task, "encode"):  # the contract's optional token-row capability
        able = ", ".join(name for name in tasks.TASKS if hasattr(tasks.get(name), "encode"))
        raise MgtError(f"task '{cfg.task.name}' has no token preview; expected one of {able}")
    tok = load_tokenizer(cfg.model, task.HEAD)
    encoded = task.encode(cfg, tok, load_data(cfg, task, stream=False).train)
    show(tok, encoded, args.num or cfg.train.preview_samples or 2)
    return 0
