"""`mgtrainer data {check,convert,preview,mine-negatives}` (no torch: heavy work is imported inside handlers)."""

from __future__ import annotations

import argparse
import sys

from mgtrainer.cli.reexec import in_env, missing

# = tuple(mgtrainer.data.formats.FORMATS), spelled out so `--help` imports nothing more (a test checks it)
FORMAT_NAMES = ("alpaca", "sharegpt", "messages", "openai_preference", "hh", "text", "classify", "embed", "rerank",
                "mdl", "asr")


def register(sub) -> None:
    data = sub.add_parser("data", help="check, convert and preview training data")
    verbs = data.add_subparsers(dest="data_verb", metavar="VERB")
    data.set_defaults(func=lambda args: data.print_help(sys.stderr) or 2)  # no sub-verb: a usage error

    chk = verbs.add_parser("check", help="detected format, row count, field statistics and every rejected row")
    chk.add_argument("target", metavar="FILE|DATASET_NAME", nargs="+")
    chk.add_argument("--task", help="check rows as the record kind this task trains on (e.g. classify, rerank)")
    chk.add_argument("--dataset-dir", help="folder with LLaMA-Factory's dataset_info.json (for dataset names)")
    chk.add_argument("--media-dir", help="folder relative image/audio paths resolve against (default: the data file's)")
    chk.add_argument("--format", choices=FORMAT_NAMES, help="skip auto-detection")
    chk.add_argument("--model", help="with --task: also tokenise with this model's tokenizer and chat template and "
                     "list the rows training would drop (prompt over --cutoff-len, ...)")
    chk.add_argument("--cutoff-len", type=int, help="with --model: data.cutoff_len (default: the config's)")
    chk.add_argument("--max-prompt-length", type=int, help="with --model: the task's max_prompt_length")
    chk.set_defaults(func=cmd_check, argv=None)

    conv = verbs.add_parser("convert", help="convert a data file to alpaca, sharegpt or messages rows")
    add_convert_args(conv)
    conv.set_defaults(func=cmd_convert)

    prev = verbs.add_parser("preview", help="show the first tokenised samples of a run config")
    prev.add_argument("config")
    prev.add_argument("overrides", nargs="*", help="key=value overrides")
    prev.add_argument("-n", "--num", type=int, default=3, help="samples to show")
    prev.set_defaults(func=cmd_preview, argv=None)

    pack = verbs.add_parser("pack", help="tokenise a run config's data once into Arrow shards (data.packed: DIR)")
    pack.add_argument("config")
    pack.add_argument("overrides", nargs="*", help="key=value overrides")
    pack.add_argument("-o", "--output", required=True, help="the cache folder (replaced)")
    pack.add_argument("--num-proc", type=int, default=1, help="tokenising processes")
    pack.add_argument("--shard-rows", type=int, default=50_000, help="rows per shard")
    pack.set_defaults(func=cmd_pack, argv=None)

    mine = verbs.add_parser("mine-negatives", help="hard negatives for embed/rerank rows mined with a bi-encoder "
                            "(FlagEmbedding hn_mine style: the top ranks, likely unlabelled positives, are skipped)")
    mine.add_argument("input", metavar="IN", help="embed rows (query/pos/neg) or rerank rows")
    mine.add_argument("-o", "--output", required=True, help="FlagEmbedding jsonl {query, pos, neg}")
    mine.add_argument("--model", required=True, help="the bi-encoder (local folder)")
    mine.add_argument("--range", default="10-100", help="0-based ranks START-END sampled from (default 10-100)")
    mine.add_argument("--num", type=int, default=7, help="negatives per query (default 7)")
    mine.add_argument("--corpus", help="passages to mine from (one per line, or jsonl with text); default: "
                      "every passage of IN")
    mine.add_argument("--max-length", type=int, default=256)
    mine.add_argument("--seed", type=int, default=0)
    mine.add_argument("--query-instruction", help="prepended to queries before encoding")
    mine.set_defaults(func=cmd_mine, argv=None)


def add_convert_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN")
    parser.add_argument("--to", required=True, choices=FORMAT_NAMES,
                        help="target format (alpaca, sharegpt, messages, ...)")
    parser.add_argument("-o", "--output", required=True, help="output file (.jsonl .json .csv .tsv .parquet .txt)")
    parser.add_argument("--format", choices=FORMAT_NAMES, help="input format (default: auto-detect)")
    parser.add_argument("--force", action="store_true", help="replace -o if it exists (default: refuse)")
    parser.add_argument("--lossy", action="store_true", help="write rows the target format cannot hold whole, "
                        "dropping what it cannot hold, and say what was dropped in how many rows (default: refuse)")
    parser.set_defaults(argv=None)  # the command line to re-run in the train env (default: sys.argv[1:])


def _task_kind(task: str | None) -> str | None:
    if task is None:
        return None
    from mgtrainer.app.runs import record_kind

    return record_kind(task)


def needs_for_check(args) -> list[str]:
    """Modules outside the light core that reading the check targets needs (pyarrow, datasets)."""
    from mgtrainer.data.readers import needed_modules
    from mgtrainer.data.registry import resolve
    from mgtrainer.errors import MgtError

    out = set()
    for target in args.target:
        try:
            out.update(needed_modules(resolve(target, args.dataset_dir, "target")[0]))
        except MgtError:  # reported by the check itself
            pass
    return sorted(out)


def needs_for_convert(args) -> list[str]:
    """Modules outside the light core that reading IN and writing -o need."""
    from pathlib import Path

    from mgtrainer.data.readers import needed_modules

    out = set(needed_modules(Path(args.input)))
    if Path(args.output).suffix.lower() == ".parquet":
        out.add("pyarrow")
    return sorted(out)


def reexec(modules: list[str], args) -> int | None:
    """None when `modules` are here (nothing imported: reading a CSV must not pay for torch's import);
    else this command's exit code, re-run in the train env."""
    return None if not missing(modules) else in_env("train", modules, args.argv)


def cmd_check(args) -> int:
    """Check each target; problems go to stderr one line each; exit 2 when any row or file is bad."""
    from mgtrainer.errors import MgtError

    if args.model and not args.task:
        raise MgtError("--model tokenises as a task would; expected --task too (e.g. --task dpo)")
    code = reexec(needs_for_check(args) + (["torch", "transformers"] if args.model else []), args)
    if code is not None:
        return code
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

    from mgtrainer.data.base import shown_path
    from mgtrainer.data.checks import check

    rep = check(target, kind, args.dataset_dir, args.format, args.media_dir)
    kinds = ", ".join(f"{k} {n}" for k, n in rep.kinds.items()) or "-"
    print(f"{shown_path(rep.path)}: format {rep.format}, {rep.rows} rows ({kinds}), {len(rep.rejected)} rejected")
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
    if rep.duplicates:  # not an error (repeating rows oversamples them), but rarely meant
        source, first = rep.duplicates[0]
        print(f"{len(rep.duplicates)} rows repeat an earlier row (first: {source} repeats {first})")
    for side, sources in rep.one_sided.items():  # not an error (pointwise training uses them), but never silent
        first = ", ".join(sources[:3]) + (", ..." if len(sources) > 3 else "")
        print(f"{len(sources)} queries have no {side} passage (first: {first}): listwise rerank training "
              "(task.loss: listwise, the default) cannot form a group from them and skips them")
    for source, reason in rep.rejected:  # plain lines: one per rejected row, greppable, never wrapped
        print(f"{source}: {reason}", file=sys.stderr)
    if rep.rejected:
        print(f"rejected {len(rep.rejected)} of {rep.rows + len(rep.rejected)} rows", file=sys.stderr)
    dropped = _token_drops(rep.path, args) if args.model else []
    for source, reason in dropped:
        print(f"{source}: {reason}; expected a row that still trains once tokenised (training drops it)",
              file=sys.stderr)
    if args.model:
        print(f"tokenised with {args.model}: {len(dropped)} of {rep.rows} rows would be dropped by training",
              file=sys.stderr if dropped else sys.stdout)
    return 2 if rep.rejected or dropped else 0


def _token_drops(path, args) -> list[tuple[str, str]]:
    from mgtrainer.app.token_check import token_drops

    over = [f"max_prompt_length={args.max_prompt_length}"] if args.max_prompt_length else []
    return token_drops(path, args.task, args.model, args.cutoff_len, over)


def cmd_convert(args) -> int:
    """Convert IN to --to rows in -o (standard library only, so tools/dataformat_trans.py runs with a bare
    python3; the progress bar is drawn when rich is there)."""
    import contextlib
    from pathlib import Path

    from mgtrainer.data.convert import convert, count_lines

    code = reexec(needs_for_convert(args), args)
    if code is not None:
        return code
    total = count_lines(Path(args.input))
    with contextlib.ExitStack() as stack:
        tick = _progress(stack, total)
        dropped: dict = {}
        n = convert(args.input, args.output, args.to, args.format, tick=tick, force=args.force,
                    lossy=args.lossy, dropped=dropped)
    print(f"wrote {n} {args.to} rows to {args.output}")
    for where, rows in sorted(dropped.items()):
        print(f"dropped {where} (not held by {args.to}) in {rows} of {n} rows", file=sys.stderr)
    return 0


def _progress(stack, total: int | None):
    """A rich progress bar's update function (None without rich)."""
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    except ImportError:
        return None
    columns = (TextColumn("converting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar = stack.enter_context(Progress(*columns, transient=True))
    task = bar.add_task("rows", total=total)
    return lambda k: bar.update(task, completed=k)


def cmd_pack(args) -> int:
    code = reexec(["torch", "transformers", "datasets"], args)
    if code is not None:
        return code
    from mgtrainer.app.pack import pack

    pack(args.config, args.overrides, args.output, args.num_proc, args.shard_rows)
    return 0


def cmd_mine(args) -> int:
    code = reexec(["torch", "transformers"], args)
    if code is not None:
        return code
    from mgtrainer.app.mining import main

    return main(args)


def cmd_preview(args) -> int:
    code = reexec(["torch", "transformers"], args)  # tokenising needs the train env's stack
    if code is not None:
        return code
    from mgtrainer.app.preview import main as preview

    return preview(args)
