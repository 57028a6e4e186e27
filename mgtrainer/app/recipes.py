"""The recipe catalog: guidance templates for training and inference, kept as data.

The catalog is one YAML file beside the example scripts (script/examples/recipes.yaml in the checkout
this package is installed from, editable: the bootstrap, script/install.sh and `pip install -e .` all
install it that way; MGT_RECIPES points at another catalog file). Each entry names its files (a config
and the script that runs it, paths from the repository root), the script to run, its output folder and
the expected result of a full run. Nothing here knows a task: the names are data.

  catalog() -> Catalog            read and check the catalog
  Catalog.get(name) -> Recipe     one recipe (an unknown name: the nearest ones)
  copy(recipe, dest, force)       the recipe's files into dest (refuses to overwrite unless force)
  check(recipe, output_dir, smoke) -> list[str]   what differs from the expected result ([] = as expected)
"""

from __future__ import annotations

import difflib
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mgtrainer.errors import MgtError

FIELDS = ("name", "task", "method", "backend", "shows", "cpu_time", "files", "run", "output", "expect")
OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
       "<": lambda a, b: a < b, "==": lambda a, b: a == b}


def catalog_path() -> Path:
    from mgtrainer.env.profiles import REPO_ROOT  # the checkout this package is installed from

    return Path(os.environ.get("MGT_RECIPES") or REPO_ROOT / "script" / "examples" / "recipes.yaml")


@dataclass
class Recipe:
    name: str
    task: str
    method: str
    backend: str
    shows: str
    cpu_time: str
    files: list[str]
    run: str
    output: str
    expect: dict = field(default_factory=dict)
    line: int = 0

    def line_text(self, width: int = 22) -> str:
        return (f"{self.name:<{width}} {self.task:<9} {self.method:<7} {self.backend:<12} "
                f"{self.cpu_time:>7}  {self.shows}")


@dataclass
class Catalog:
    path: Path
    root: Path
    recipes: list[Recipe]

    def get(self, name: str) -> Recipe:
        for r in self.recipes:
            if r.name == name:
                return r
        near = difflib.get_close_matches(name, [r.name for r in self.recipes], n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(near)}?" if near else "; `mgtrainer recipes` lists them"
        raise MgtError(f"no recipe named {name!r}{hint}")


def catalog(path: Path | None = None) -> Catalog:
    import yaml

    path = Path(path or catalog_path())
    if not path.is_file():
        raise MgtError(f"{path}: no recipe catalog here; expected mgtrainer installed editable from its "
                       "checkout (bash script/install.sh), or MGT_RECIPES=FILE")
    text = path.read_text()
    try:
        rows = yaml.safe_load(text)
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", -1) + 1
        raise MgtError(f"{path}:{line}: not valid YAML ({err}); expected a list of recipes") from None
    if not isinstance(rows, list):
        raise MgtError(f"{path}:1: a {type(rows).__name__}; expected a list of recipes")
    starts = [i + 1 for i, ln in enumerate(text.splitlines()) if ln.startswith("- ")]
    root = path.resolve().parents[2] if path.parent.name == "examples" else path.resolve().parent
    recipes, seen = [], set()
    for i, row in enumerate(rows):
        line = starts[i] if i < len(starts) else 1
        if not isinstance(row, dict):
            raise MgtError(f"{path}:{line}: a {type(row).__name__}; expected a mapping with {', '.join(FIELDS)}")
        missing = [k for k in FIELDS if k not in row and k != "expect"]
        unknown = [k for k in row if k not in FIELDS]
        if missing or unknown:
            raise MgtError(f"{path}:{line}: recipe {row.get('name', '?')!r}: "
                           + (f"missing {', '.join(missing)}" if missing else f"unknown key {', '.join(unknown)}")
                           + f"; expected keys {', '.join(FIELDS)}")
        if row["name"] in seen:
            raise MgtError(f"{path}:{line}: recipe {row['name']!r} twice; expected unique names")
        seen.add(row["name"])
        for f in [*row["files"], row["run"]]:
            if not (root / f).is_file():
                raise MgtError(f"{path}:{line}: recipe {row['name']!r}: {f} does not exist; expected a file "
                               "path from the repository root")
        recipes.append(Recipe(**{k: row.get(k) or ({} if k == "expect" else row.get(k)) for k in FIELDS},
                              line=line))
    return Catalog(path, root, recipes)


def show(cat: Catalog, recipe: Recipe) -> str:
    """The template: its catalog line, then each of its files in full."""
    head = [f"# recipe {recipe.name}: {recipe.shows}",
            f"# task {recipe.task}, method {recipe.method}, backend {recipe.backend}, ~{recipe.cpu_time} on 2 CPU cores",
            f"# run:   bash {recipe.run}        (smoke: MGT_SMOKE=1 bash {recipe.run})",
            f"# check: mgtrainer recipes check {recipe.name}   (expects {_expect_text(recipe.expect)})"]
    parts = ["\n".join(head)]
    for f in recipe.files:
        parts.append(f"# ---- {f} ----\n{(cat.root / f).read_text().rstrip()}")
    return "\n\n".join(parts) + "\n"


def _expect_text(expect: dict) -> str:
    bits = [f"{k} {v}" for k, v in (expect.get("metrics") or {}).items()]
    bits += [f"{k} {v}" for k, v in (expect.get("json") or {}).items()]
    bits += list(expect.get("files") or [])
    return ", ".join(bits) or "the output folder"


def copy(cat: Catalog, recipe: Recipe, dest: Path, force: bool = False) -> list[Path]:
    """Copy the recipe's files into dest (flat); an existing file there is refused unless force."""
    from mgtrainer import atomic

    dest = Path(dest)
    targets = [(cat.root / f, dest / Path(f).name) for f in recipe.files]
    clash = [str(t) for _, t in targets if t.exists()]
    if clash and not force:
        raise MgtError(f"{clash[0]}: already exists; expected a new folder (or --force to overwrite "
                       f"{len(clash)} file(s))")
    dest.mkdir(parents=True, exist_ok=True)
    for src, t in targets:
        atomic.write_bytes(t, src.read_bytes())
        shutil.copymode(src, t)
    return [t for _, t in targets]


def last_metrics(output_dir: Path) -> dict:
    """The last value of every numeric key in OUTPUT_DIR/metrics.jsonl (later rows win)."""
    from mgtrainer.report.plots import read_metrics

    out = {}
    for row in read_metrics(output_dir):
        out.update({k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return out


def _compare(name: str, value, rule: str) -> str | None:
    op = next((o for o in (">=", "<=", "==", ">", "<") if str(rule).strip().startswith(o)), None)
    if op is None:
        return f"{name}: bad rule {rule!r}; expected e.g. '>= 0.9'"
    want = float(str(rule).strip()[len(op):])
    if value is None:
        return f"{name}: missing; expected {op} {want:g}"
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return f"{name}: {value!r}; expected a number {op} {want:g}"
    return None if OPS[op](value, want) else f"{name}: {value:.6g}; expected {op} {want:g}"


def check(cat: Catalog, recipe: Recipe, output_dir: Path | None = None, smoke: bool = False) -> list[str]:
    """What differs between output_dir (default: the recipe's output) and the expected result.

    Full mode: every expected file exists, every metric rule holds (last value in metrics.jsonl), every
    json rule holds (a key of a JSON file the run writes, `file:key` or `file:outer.key`). Smoke mode: the same files and
    keys must be there and be finite numbers, the thresholds are not applied (a few steps learn little).
    """
    out = Path(output_dir) if output_dir else cat.root / recipe.output
    expect = recipe.expect or {}
    problems = []
    if not out.is_dir():
        return [f"{out}: no such folder; expected the output of `bash {recipe.run}`"]
    problems += [f"{out / f}: missing; expected it from the run" for f in expect.get("files") or []
                 if not (out / f).exists()]
    rules = expect.get("metrics") or {}
    if rules:
        mpath = out / "metrics.jsonl"
        if not mpath.is_file():
            problems.append(f"{mpath}: missing; expected the run's metrics")
        else:
            got = last_metrics(out)
            for k, rule in rules.items():
                problems += _rule(k, got.get(k), rule, smoke)
    for key, rule in (expect.get("json") or {}).items():
        fname, _, jkey = key.partition(":")
        jpath = out / fname
        try:
            value = json.loads(jpath.read_text())
            for part in jkey.split("."):  # metrics.eval_accuracy: a key inside an object
                value = value.get(part)
        except (OSError, ValueError, AttributeError) as err:
            problems.append(f"{jpath}: unreadable ({err}); expected a JSON object with {jkey!r}")
            continue
        problems += _rule(key, value, rule, smoke)
    return problems


def _rule(name: str, value, rule: str, smoke: bool) -> list[str]:
    if smoke:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return [] if ok else [f"{name}: {value!r}; expected a finite number"]
    problem = _compare(name, value, rule)
    return [problem] if problem else []
