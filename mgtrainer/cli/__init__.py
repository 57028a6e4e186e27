"""The one command line: `mgtrainer <verb> ...`.

All command-line code lives in this package, one module per verb group, each with a `register(subparsers)`
function; the layers below expose functions and never register verbs. This file only wires the groups
together. Nothing here (or in those register functions) imports torch: heavy imports happen inside the
command handlers, which re-run themselves in the env that has them (reexec.in_env).
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # `train CFG --flag X k=v`: argparse leaves overrides that come after an option
        if not (hasattr(args, "overrides") and all("=" in a and not a.startswith("-") for a in extra)):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*(args.overrides or []), *extra]
    if not getattr(args, "func", None):  # no verb: the help, and a usage error's exit code (as argparse's)
        parser.print_help(sys.stderr)
        return 2
    return dispatch(args)


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
