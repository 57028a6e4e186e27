"""`python -m mgtrainer.env ACTION ...`: the env verbs alone, without loading the other layers' CLIs
(the fast path the shell scripts use: a warm `build` is a few file reads)."""

import argparse
import sys

from mgtrainer.env.cli import register
from mgtrainer.errors import MgtError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mgtrainer")
    register(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["env", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except MgtError as err:
        print(err, file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


raise SystemExit(main())
