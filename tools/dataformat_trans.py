#!/usr/bin/env python
"""Convert a data file between formats: a thin script over `mgtrainer data convert` (same flags).

    python tools/dataformat_trans.py IN --to alpaca|sharegpt|messages -o OUT [--format F]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from mgtrainer.data.cli import add_convert_args, cmd_convert  # noqa: E402
from mgtrainer.errors import MgtError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dataformat_trans.py", description=__doc__.splitlines()[0])
    add_convert_args(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_convert(args)
    except MgtError as err:
        print(err, file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
