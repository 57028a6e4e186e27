"""Imports point down the layers of references/architecture.md, and no module imports itself back.

Read with `ast` (no package is imported), every `import` counts, also those inside functions: a lazy
import is still a dependency. A module may import its own layer or any layer below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mgtrainer"

# Top to bottom. Entry modules (the CLI: mgtrainer/cli.py, every */cli.py, the __main__ modules) may
# import anything; they are not listed.
LAYERS = [
    ("app", ("mgtrainer.app", "mgtrainer.serve", "mgtrainer.backends")),  # flows: train/eval/preview, serve, LLaMA-Factory
    ("env", ("mgtrainer.env",)),
    ("config", ("mgtrainer.config",)),
    ("data", ("mgtrainer.data",)),
    ("tasks", ("mgtrainer.tasks",)),
    ("driver", ("mgtrainer.driver", "mgtrainer.report")),  # report: the run report the driver's callbacks write
    ("base", ("mgtrainer.atomic", "mgtrainer.errors", "mgtrainer.manifest", "mgtrainer")),
]


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = modules()


def resolve(name: str) -> str:
    """The module a dotted import name lands in (`mgtrainer.driver.run.start` -> `mgtrainer.driver.run`)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports(name: str) -> set[str]:
    """The mgtrainer modules `name` imports, anywhere in its source."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {resolve(a.name) for a in node.names if a.name.split(".")[0] == "mgtrainer"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            if base.split(".")[0] == "mgtrainer":
                found |= {resolve(f"{base}.{a.name}") for a in node.names}
    return found - {name}


def is_entry(name: str) -> bool:
    return name in ("mgtrainer.cli", "mgtrainer.__main__") or name.endswith((".cli", ".__main__"))


def layer(name: str) -> int:
    """Index in LAYERS (0 = top) of the longest matching prefix."""
    best = max((len(p), i) for i, (_, prefixes) in enumerate(LAYERS) for p in prefixes
               if name == p or name.startswith(p + "."))
    return best[1]


GRAPH = {name: imports(name) for name in MODULES}


def upward_imports() -> list[str]:
    return [f"{src} ({LAYERS[layer(src)][0]}) imports {dst} ({LAYERS[layer(dst)][0]})"
            for src, dsts in sorted(GRAPH.items()) if not is_entry(src)
            for dst in sorted(dsts) if not is_entry(dst) and layer(dst) < layer(src)]


def test_every_module_has_a_layer():
    assert all(is_entry(name) or layer(name) >= 0 for name in MODULES)


KNOWN_UPWARD: list[str] = []


def test_imports_point_down_the_layers():
    assert upward_imports() == KNOWN_UPWARD


def test_no_module_imports_the_entry_layer():
    assert [f"{s} -> {d}" for s, ds in GRAPH.items() if not is_entry(s) for d in ds if is_entry(d)] == []


def cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    assert cycles() == []


def test_the_driver_never_imports_a_task_or_the_data_layer():
    driver = {n: d for n, d in GRAPH.items() if n.startswith("mgtrainer.driver.") and not is_entry(n)}
    assert {n: sorted(x for x in d if x.startswith(("mgtrainer.tasks", "mgtrainer.data"))) for n, d in driver.items()
            if any(x.startswith(("mgtrainer.tasks", "mgtrainer.data")) for x in d)} == {}
