"""`mgtrainer data {check,convert,preview}` (no torch: heavy work is imported inside handlers)."""

from __future__ import annotations

import argparse
import sys

# = tuple(mgtrainer.data.formats.FORMATS), spelled out so `--help` imports nothing more (a test checks it)
FORMAT_NAMES = ("alpaca", "sharegpt", "messages", "openai_preference", "text", "classify", "embed", "rerank", "mdl")


def register(sub) -> None:
    data = sub.add_parser("data", help="check, convert and preview training data")
    verbs = data.add_subparsers(dest="data_verb", metavar="VERB")
    data.set_defaults(func=lambda args: data.print_help() or 0)

    chk = verbs.add_parser("check", help="detected format, row count, field statistics and every rejected row")
    chk.add_argument("target", metavar="FILE|DATASET_NAME", nargs="+")
    chk.add_argument("--task", help="check rows as the record kind this task trains on (e.g. classify, rerank)")
    chk.add_argument("--dataset-dir", help="folder with LLaMA-Factory's dataset_info.json (for dataset names)")
    chk.add_argument("--format", choices=FORMAT_NAMES, help="skip auto-detection")
    chk.set_defaults(func=cmd_check)

    conv = verbs.add_parser("convert", help="convert a data file to alpaca, sharegpt or messages rows")
    add_convert_args(conv)
    conv.set_defaults(func=cmd_convert)

    prev = verbs.add_parser("preview", help="show the first tokenised samples of a run config")
    prev.add_argument("config")
    prev.add_argument("overrides", nargs="*", help="key=value overrides")
    prev.add_argument("-n", "--num", type=int, default=3, help="samples to show")
    prev.set_defaults(func=cmd_preview)


def add_convert_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN")
    parser.add_argument("--to", required=True, choices=FORMAT_NAMES,
                        help="target format (alpaca, sharegpt, messages, ...)")
    parser.add_argument("-o", "--output", required=True, help="output file (.jsonl .json .csv .tsv .parquet .txt)")
    parser.add_argument("--format", choices=FORMAT_NAMES, help="input format (default: auto-detect)")


def _task_kind(task: str | None) -> str | None:
    if task is None:
        return None
    from mgtrainer.app.runs import record_kind

    return record_kind(task)


def cmd_check(args) -> int:
    """Check each target; problems go to stderr one line each; exit 2 when any row or file is bad."""
    from mgtrainer.errors import MgtError

    kind, status = _task_kind(args.task), 0
    for target in args.target:
        try:
            status = max(status, _check_one(target, kind, args))
        except MgtError as err:
            if len(args.target) == 1:
                raise
            print(err, file=sys.stderr)
            status = 2
    return status


def _check_one(target: str, kind: str | None, args) -> int:
    from rich.console import Console
    from rich.table import Table

    from mgtrainer.data.checks import check

    rep = check(target, kind, args.dataset_dir, args.format)
    kinds = ", ".join(f"{k} {n}" for k, n in rep.kinds.items()) or "-"
    print(f"{rep.path}: format {rep.format}, {rep.rows} rows ({kinds}), {len(rep.rejected)} rejected")
    table = Table()
    for col in ("field", "rows", "min", "mean", "max"):
        table.add_column(col, justify="left" if col == "field" else "right")
    for name, st in rep.stats.items():
        table.add_row(name, str(st.rows), f"{st.lo:g}", f"{st.mean:.1f}", f"{st.hi:g}")
    for name, counter in rep.values.items():
        top = ", ".join(f"{v}: {n}" for v, n in counter.most_common(12))
        more = f" (+{len(counter) - 12} more)" if len(counter) > 12 else ""
        table.add_row(f"{name} ({len(counter)} distinct)", str(sum(counter.values())), "", top + more, "")
    if rep.rows:
        Console().print(table)
    for source, reason in rep.rejected:  # plain lines: one per rejected row, greppable, never wrapped
        print(f"{source}: {reason}", file=sys.stderr)
    if rep.rejected:
        print(f"rejected {len(rep.rejected)} of {rep.rows + len(rep.rejected)} rows", file=sys.stderr)
        return 2
    return 0


def cmd_convert(args) -> int:
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from mgtrainer.data.convert import convert, count_lines

    total = count_lines(Path(args.input))
    columns = (TextColumn("converting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("rows", total=total)
        n = convert(args.input, args.output, args.to, args.format, tick=lambda k: bar.update(task, completed=k))
    print(f"wrote {n} {args.to} rows to {args.output}")
    return 0


def cmd_preview(args) -> int:
    from mgtrainer.app.preview import main as preview

    return preview(args)
