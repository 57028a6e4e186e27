"""Imports point down the layers of references/architecture.md, and no module imports itself back.

Read with `ast` (no package is imported), every `import` counts, also those inside functions: a lazy
import is still a dependency. A module may import its own layer or any layer below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mgtrainer"

# Top to bottom; every module has one (no exemptions). The command line (mgtrainer/cli/ and the `python -m`
# entry modules) is the top layer: it may import anything and nothing imports it. The driver composes
# training; report/ reads run folders and draws (its live callback is handed to the driver by the app, through
# driver/watch.py): neither imports the other.
LAYERS = [
    ("cli", ("mgtrainer.cli", "mgtrainer.__main__", "mgtrainer.env.__main__")),
    ("app", ("mgtrainer.app", "mgtrainer.serve", "mgtrainer.backends")),  # flows: train/eval/preview, serve, LLaMA-Factory
    ("env", ("mgtrainer.env",)),
    ("config", ("mgtrainer.config",)),
    ("data", ("mgtrainer.data",)),
    ("tasks", ("mgtrainer.tasks",)),
    ("driver", ("mgtrainer.driver",)),
    ("report", ("mgtrainer.report",)),  # the run report: the live callback, page and plots
    ("base", ("mgtrainer.atomic", "mgtrainer.errors", "mgtrainer.manifest", "mgtrainer")),  # stepfiles, preview, ...
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


def layer(name: str) -> int:
    """Index in LAYERS (0 = top) of the longest matching prefix."""
    best = max((len(p), i) for i, (_, prefixes) in enumerate(LAYERS) for p in prefixes
               if name == p or name.startswith(p + "."))
    return best[1]


GRAPH = {name: imports(name) for name in MODULES}


def upward_imports() -> list[str]:
    return [f"{src} ({LAYERS[layer(src)][0]}) imports {dst} ({LAYERS[layer(dst)][0]})"
            for src, dsts in sorted(GRAPH.items()) for dst in sorted(dsts) if layer(dst) < layer(src)]


def test_every_module_has_a_layer():
    assert all(layer(name) >= 0 for name in MODULES)


KNOWN_UPWARD: list[str] = []


def test_imports_point_down_the_layers():
    assert upward_imports() == KNOWN_UPWARD


def test_the_command_line_lives_in_one_package():
    """Verbs are registered in the cli layer only: no other module adds a subcommand parser."""
    found = [name for name, path in MODULES.items() if layer(name) != 0
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Attribute) and node.attr in ("add_parser", "add_subparsers")]
    assert found == []


def package(name: str) -> str:
    """`mgtrainer.driver.trainer` -> `mgtrainer.driver`; a base module (mgtrainer/atomic.py) is its own; the
    `python -m` entry modules belong to the command line."""
    if layer(name) == 0:
        return "mgtrainer.cli"
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or MODULES[name].name == "__init__.py" else name


def test_no_two_packages_import_each_other():
    edges = {(package(s), package(d)) for s, ds in GRAPH.items() for d in ds if package(s) != package(d)}
    assert sorted(f"{a} <-> {b}" for a, b in edges if (b, a) in edges and a < b) == []


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
    driver = {n: d for n, d in GRAPH.items() if n.startswith("mgtrainer.driver.")}
    assert {n: sorted(x for x in d if x.startswith(("mgtrainer.tasks", "mgtrainer.data"))) for n, d in driver.items()
            if any(x.startswith(("mgtrainer.tasks", "mgtrainer.data")) for x in d)} == {}


def test_the_data_layer_never_imports_the_driver():
    """The data layer is torch-free: what it shares with training (media codecs) sits in a base module."""
    assert sorted(f"{n} -> {d}" for n, ds in GRAPH.items() if n.startswith("mgtrainer.data")
                  for d in ds if d.startswith(("mgtrainer.driver", "mgtrainer.tasks", "mgtrainer.report"))) == []


def test_the_driver_and_the_report_never_import_each_other():
    """The driver composes training and knows no report: the app hands it the report's callbacks as plain
    callables (driver/watch.py); report/ reads run folders and draws, and knows no driver."""
    pairs = [("mgtrainer.driver", "mgtrainer.report"), ("mgtrainer.report", "mgtrainer.driver")]
    assert sorted(f"{n} -> {d}" for n, ds in GRAPH.items() for d in ds for a, b in pairs
                  if (n == a or n.startswith(a + ".")) and (d == b or d.startswith(b + "."))) == []
