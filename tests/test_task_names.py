"""No task name is spelled outside mgtrainer/tasks/: everything else asks the registry (issue 12).

A task-name literal is a string constant equal to a registered task's name. Not counted: the data
layer's format and record-kind names (classify, embed, rerank, text... name data shapes, and some
happen to equal task names; the `data` verbs spell them out in cli/data.py to keep `--help` light), LLaMA-Factory's own stage vocabulary in backends/lf_*.py and
llamafactory.py (its pt/sft/rm stages), and tensors requested as `return_tensors="pt"`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from mgtrainer.tasks import TASKS

PACKAGE = Path(__file__).resolve().parents[1] / "mgtrainer"
NOT_TASK_NAMES = ("data/", "cli/data.py", "backends/lf_", "backends/llamafactory.py")
# Known, to be removed by the report package's owner: report/callback.py attaches sft's generation
# callback by comparing cfg.task.name with "sft" (the task should hand its report callbacks down instead).
KNOWN: set = set()


def literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    tensors = {id(k.value) for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg == "return_tensors"}
    return [f"{path.relative_to(PACKAGE.parent)}:{n.lineno}: {n.value!r}" for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and n.value in TASKS and id(n) not in tensors]


def test_no_task_name_literal_outside_the_tasks_package():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if not rel.startswith(("tasks/", *NOT_TASK_NAMES)):
            found += literals(path)
    assert {(f.split(":")[0], f.rsplit(": ", 1)[1]) for f in found} == KNOWN
