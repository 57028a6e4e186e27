"""Verb `recipes`: the catalog of guidance templates (mgtrainer/app/recipes.py; the data lives in
script/examples/recipes.yaml).

  mgtrainer recipes                         one line each: name, task, method, backend, time, what it shows
  mgtrainer recipes show NAME               the template: catalog line, config and script
  mgtrainer recipes copy NAME DIR [--force] its config and script into DIR, to start from
  mgtrainer recipes run NAME [--smoke] [k=v ...]   run its script from the repository root
  mgtrainer recipes check NAME [OUTPUT_DIR] [--smoke]   a finished run against its expected result
"""

from __future__ import annotations

import os
import subprocess
import sys


def _list(args) -> int:
    from mgtrainer.app.recipes import catalog

    cat = catalog()
    width = max(len(r.name) for r in cat.recipes) + 1
    print(f"{'NAME':<{width}} {'TASK':<9} {'METHOD':<7} {'BACKEND':<12} {'2-CPU':>7}  SHOWS")
    for r in cat.recipes:
        print(r.line_text(width))
    print(f"\n{len(cat.recipes)} recipes ({cat.path}). `mgtrainer recipes show NAME` prints one; "
          "`copy NAME DIR` starts from it; `run NAME [--smoke]`; `check NAME` checks a full run.")
    return 0


def _show(args) -> int:
    from mgtrainer.app.recipes import catalog, show

    cat = catalog()
    sys.stdout.write(show(cat, cat.get(args.name)))
    return 0


def _copy(args) -> int:
    from mgtrainer.app.recipes import catalog, copy

    cat = catalog()
    recipe = cat.get(args.name)
    for path in copy(cat, recipe, args.dir, force=args.force):
        print(path)
    print(f"copied recipe {recipe.name}; its paths are relative to the repository root ({cat.root}): run it "
          f"from there, or edit the data/model paths", file=sys.stderr)
    return 0


def _run(args) -> int:
    from mgtrainer.app.recipes import catalog

    cat = catalog()
    recipe = cat.get(args.name)
    env = dict(os.environ, MGT_SMOKE="1") if args.smoke else None
    return subprocess.call(["bash", str(cat.root / recipe.run), *args.overrides], cwd=cat.root, env=env)


def _check(args) -> int:
    from mgtrainer.app.recipes import catalog, check

    cat = catalog()
    recipe = cat.get(args.name)
    problems = check(cat, recipe, args.output_dir, smoke=args.smoke)
    where = args.output_dir or recipe.output
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"recipe {recipe.name}: {where} differs from the expected result ({len(problems)} problem(s))",
              file=sys.stderr)
        return 1
    print(f"recipe {recipe.name}: {where} is as expected" + (" (smoke: outputs present)" if args.smoke else ""))
    return 0


def register(sub) -> None:
    p = sub.add_parser("recipes", help="the catalog of training and inference templates: list, show, copy, "
                       "run, check", description="Guidance templates (script/examples/recipes.yaml).")
    p.set_defaults(func=_list)
    rs = p.add_subparsers(dest="recipes_action", metavar="ACTION")
    s = rs.add_parser("list", help="one line per recipe (the default)")
    s.set_defaults(func=_list)
    s = rs.add_parser("show", help="print a recipe: its config and script")
    s.add_argument("name")
    s.set_defaults(func=_show)
    s = rs.add_parser("copy", help="copy a recipe's config and script into DIR to start from")
    s.add_argument("name")
    s.add_argument("dir")
    s.add_argument("--force", action="store_true", help="overwrite files already in DIR")
    s.set_defaults(func=_copy)
    s = rs.add_parser("run", help="run a recipe's script (from the repository root)")
    s.add_argument("name")
    s.add_argument("overrides", nargs="*", help="passed to the script (config overrides, k=v)")
    s.add_argument("--smoke", action="store_true", help="the fast mode CI runs (MGT_SMOKE=1): a few steps")
    s.set_defaults(func=_run)
    s = rs.add_parser("check", help="check a finished full run against the recipe's expected result")
    s.add_argument("name")
    s.add_argument("output_dir", nargs="?", help="the run's output folder (default: the recipe's)")
    s.add_argument("--smoke", action="store_true", help="only that the expected files and metrics are there")
    s.set_defaults(func=_check)
