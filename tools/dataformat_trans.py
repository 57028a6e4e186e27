#!/usr/bin/env python3
"""Convert a data file between formats: a thin script over `mgtrainer data convert` (same flags).

    python3 tools/dataformat_trans.py IN --to alpaca|sharegpt|messages -o OUT [--format F]

Runs with a bare `python3` (>= 3.11) from a checkout: the converters need only the standard library.
Reading or writing .parquet (or a `datasets` folder) needs pyarrow/datasets: without them the command
re-runs in mgtrainer's train env, through script/env/_bootstrap.sh when this Python lacks the light core.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from mgtrainer.cli.data import add_convert_args, cmd_convert, missing, needs_for_convert  # noqa: E402
from mgtrainer.errors import MgtError  # noqa: E402

CORE = ("pydantic", "yaml", "rich", "filelock", "platformdirs")  # pyproject.toml's dependencies


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="dataformat_trans.py", description=__doc__.splitlines()[0])
    add_convert_args(parser)
    args = parser.parse_args(argv)
    args.argv = ["data", "convert", *argv]
    try:
        if missing(needs_for_convert(args)) and missing(list(CORE)):
            return via_bootstrap(args.argv)
        return cmd_convert(args)
    except MgtError as err:
        print(err, file=sys.stderr)
        return err.exit_code


def via_bootstrap(mgt_argv: list[str]) -> int:
    """Re-run as `mgt data convert ...` in the light core that script/env/_bootstrap.sh builds (which in
    turn re-runs in the train env for pyarrow/datasets)."""
    script = REPO / "script" / "env" / "_bootstrap.sh"
    if not script.exists():
        raise MgtError(f"{script}:1: not found (checkout); expected a full mgtrainer checkout, or "
                       "`pip install pyarrow` for .parquet")
    print("dataformat_trans.py: .parquet needs pyarrow; running through mgtrainer's light core",
          file=sys.stderr, flush=True)
    os.execvp("bash", ["bash", "-c", 'source "$0" && mgt "$@"', str(script), *mgt_argv])
    return 2  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
