"""`python -m mgtrainer.env ACTION ...`: the env verbs alone, without loading the other layers' CLIs
(the fast path the shell scripts use: a warm `build` is a few file reads)."""

import argparse
import sys

from mgtrainer.cli import dispatch  # light: argparse + errors, no other layer's CLI
from mgtrainer.cli.env import register


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mgtrainer")
    register(parser.add_subparsers(dest="verb", required=True))
    return dispatch(parser.parse_args(["env", *(sys.argv[1:] if argv is None else argv)]))


raise SystemExit(main())
