"""The one command line: `mgtrainer <verb> ...`.

All command-line code lives in this package, one module per verb group, each with a `register(subparsers)`
function; the layers below expose functions and never register verbs. This file only wires the groups
together. Nothing here (or in those register functions) imports torch: heavy imports happen inside the
command handlers, which re-run themselves in the env that has them (reexec.in_env).
"""

from __future__ import annotations

import argparse
import os
import sys

from mgtrainer import __version__
from mgtrainer.errors import MgtError

REGISTRARS = (
    "mgtrainer.cli.train",    # train, eval, model, export, report
    "mgtrainer.cli.serve",    # serve, predict, chat
    "mgtrainer.cli.data",     # data {check,convert,preview,pack,mine-negatives}
    "mgtrainer.cli.env",      # env {build,status,run,doctor,clean,lock}
    "mgtrainer.cli.config",   # config {show,schema}
    "mgtrainer.cli.recipes",  # recipes {list,show,copy,run,check}
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="mgtrainer",
        description="Train and serve LLM-based chat, classify, reward, embedding and rerank models "
        "from one config, one data layer and one command line.",
    )
    parser.add_argument("--version", action="version", version=f"mgtrainer {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name in REGISTRARS:
        importlib.import_module(name).register(sub)
    return parser


def parse(argv: list[str] | None = None):
    """(parser, args): options a verb with overrides does not have become overrides (dashed_overrides), and the
    overrides argparse leaves after an option join the others."""
    parser = build_parser()
    argv = dashed_overrides(parser, list(sys.argv[1:] if argv is None else argv))
    args, extra = parser.parse_known_args(argv)
    if extra:  # `train CFG --flag X k=v`: argparse leaves overrides that come after an option
        if not (hasattr(args, "overrides") and all("=" in a and not a.startswith("-") for a in extra)):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*(args.overrides or []), *extra]
    config = getattr(args, "config", None)
    if config and "=" in config and not getattr(args, "llamafactory", None) and not os.path.exists(config):
        args.config, args.overrides = None, [config, *(args.overrides or [])]  # settings alone: no config file
    return parser, args


def main(argv: list[str] | None = None) -> int:
    parser, args = parse(argv)
    if not getattr(args, "func", None):  # no verb: the help, and a usage error's exit code (as argparse's)
        parser.print_help(sys.stderr)
        return 2
    return dispatch(args)


def dashed_overrides(parser, argv: list[str]) -> list[str]:
    """For a verb that takes overrides (train, eval): a command-line option it does not have becomes the override
    of the same name (`--lora-rank 8`, `--lr=1e-4`, `--base-dir M` = lora_rank=8, lr=1e-4, base_dir=M; a flag
    with no value = true), so the seed toolkits' train commands (MDL-Toolkit's --lr, --batch-size, --lora-rank,
    --train-dataset, --eval-dataset, --output, --base-dir) run with the program name changed. A config file goes
    first (`train CFG --lr 1e-4`), or none at all."""
    verbs = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})
    sub = verbs.get(argv[0]) if argv else None
    if sub is None or not any(a.dest == "overrides" for a in sub._actions):
        return argv
    known = {opt for a in sub._actions for opt in a.option_strings}
    out, i = argv[:1], 1
    while i < len(argv):
        item = argv[i]
        name, sep, value = item[2:].partition("=")
        if item.startswith("--") and len(item) > 2 and f"--{name}" not in known:
            if not sep:
                has_value = i + 1 < len(argv) and not argv[i + 1].startswith("-") and "=" not in argv[i + 1]
                value, i = (argv[i + 1], i + 1) if has_value else ("true", i)
            out.append(f"{name.replace('-', '_')}={value}")
        else:
            out.append(item)
        i += 1
    return out


def dispatch(args) -> int:
    """Run a parsed command: a user mistake (MgtError) is one line on stderr and its exit code."""
    try:
        return int(args.func(args) or 0)
    except MgtError as err:
        print(err, file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a full disk or a read-only folder, deep in a library: one line, not a traceback
        from mgtrainer.faults import machine_fault

        line = machine_fault(err)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
