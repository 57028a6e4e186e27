"""`mgtrainer data check FILE --task T --model DIR [--cutoff-len N] [--max-prompt-length N]`: the rows that
pass the data layer's checks but that training would drop once tokenised with the model's tokenizer and chat
template (a prompt that leaves no room under cutoff_len, a completion empty after tokenisation, chosen and
rejected that are the same tokens within the limit), each with its reason, exactly as training decides it."""

from __future__ import annotations

from mgtrainer import tasks
from mgtrainer.errors import MgtError


def token_drops(path, task_name: str, model: str, cutoff_len: int | None = None,
                overrides: list[str] = ()) -> list[tuple[str, str]]:
    """(source, reason) of every row of `path` that task `task_name` would drop after tokenising."""
    from mgtrainer.config import load_config
    from mgtrainer.data import iter_records

    task = tasks.get(task_name)
    if not hasattr(task, "token_drops"):  # the contract's optional capability
        able = ", ".join(name for name in tasks.TASKS if hasattr(tasks.get(name), "token_drops"))
        raise MgtError(f"task '{task_name}' has no token check (--model); expected one of {able}")
    data = {"train": [str(path)]} | ({"cutoff_len": cutoff_len} if cutoff_len else {})
    cfg = load_config({"task": task_name, "model": model, "data": data}, list(overrides))
    tok, _ = task.tokenizer(cfg, cfg.model)
    records = list(iter_records(path, kind=task.RECORD, on_error=lambda source, reason: None))
    return task.token_drops(cfg, tok, records)
