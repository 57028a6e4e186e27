"""Print the "bad inputs tried / handled" table of references/safety.md from the two corpora.

    bash script/test.sh --co -q >/dev/null   # once: builds the dev env
    source script/env/_bootstrap.sh && mgt env run dev -- python tests/data/corpus_table.py

Each case of tests/data/bad and tests/config/bad runs through the real command line in this process
(`data check FILE` / `config show FILE`). Handled = exit 2, the expected message exactly, no traceback,
at most 600 characters per line.
"""

from __future__ import annotations

import contextlib
import io
import resource
import time
import json
import os
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from mgtrainer.cli import main  # noqa: E402

CORPORA = {"data": (REPO / "tests/data/bad", "data", "check"), "config": (REPO / "tests/config/bad", "config", "show")}
# first matching keyword in a case's file name (without extension) -> its category (row of the table)
CATEGORIES = [
    ("training semantics (OpenAI weight, implicit prompts, one-sided rerank groups)",
     ("weight", "implicit", "one_sided", "no_pos", "no_neg")),
    ("near-duplicates (labels by case, whitespace, Unicode form, invisible characters; pairs equal but for spaces)",
     ("variants", "nfd", "zero_width", "fullwidth", "whitespace_only", "labels_spacing")),
    ("duplicates (JSON keys at any depth, CSV columns, YAML keys, datasets, labels)",
     ("duplicate", "twice")),
    ("not files or not UTF-8 lines (FIFO, socket, device; UTF-16/32; CR-only line ends)",
     ("fifo", "socket", "device", "utf16", "utf32", "cr_only")),
    ("messages to act on (look-alike characters in keys, unset variables in paths)",
     ("lookalike", "unset_variable")),
    ("config values (booleans as numbers, seed range, output_dir, empty model, two names in overrides)",
     ("bool_", "seed_negative", "seed_too_big", "output_dir_empty", "output_dir_root", "model_empty", "two_names")),
    ("non-finite numbers (NaN, Infinity, 1e999)", ("nan", "inf", "overflow")),
    ("huge or deep values (nesting, 5000 digits, alias bomb, long values)", ("deep", "huge", "digits", "bomb")),
    ("invalid text (bad UTF-8, lone surrogates)", ("surrogate", "encoding", "utf8")),
    ("identical pairs (chosen == rejected, pos == neg, one passage two labels)",
     ("equals", "identical", "conflicting")),
    ("links and paths (broken/looping links, output_dir a file, empty folder)", ("link", "output_dir", "empty_folder")),
    ("YAML tags and syntax", ("tag", "bracket", "tab_indent", "not_a_mapping")),
    ("empty, malformed or corrupt files", ("empty", "blank", "malformed", "truncated", "single_object", "short_row",
                                           "row_not_object", "data", "corrupt", "broken_datasets", "without_train")),
    ("wrong type or shape (labels, scores, JSON cells, tools, remote code)",
     ("label", "score", "type", "not_json", "multilabel", "remote", "tools", "function_call", "history",
      "image", "mismatch")),
]


def category(name: str) -> str:
    stem = name.lower().rsplit(".", 1)[0]
    for title, words in CATEGORIES:
        if any(w in stem for w in words):
            return title
    return "rows of the wrong structure (roles, turn order, missing columns, record kind)"


SECONDS, MIB = 5.0, 1024  # no case may take longer or hold more (issue 25)


def run(corpus: str, name: str, case: dict) -> bool:
    """Handled: exit 2, the exact expected line, no traceback, no line over 600 characters, within SECONDS."""
    folder, verb, sub = CORPORA[corpus]
    start = time.perf_counter()
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main([verb, sub, name, *case["args"]])
    except BaseException:  # noqa: BLE001 - a traceback: not handled
        return False
    finally:
        os.chdir(cwd)
    took = time.perf_counter() - start
    SLOWEST[:] = max(SLOWEST, [took, f"{corpus}/{name}"])
    lines = err.getvalue().splitlines()
    mine = [line for line in lines if line.startswith(name + ":")] or lines[-1:]
    return code == 2 and bool(mine) and mine[0] == case["message"] and all(len(line) <= 600 for line in lines) \
        and took <= SECONDS


SLOWEST: list = [0.0, ""]


def main_table() -> str:
    tried, handled = Counter(), Counter()
    for corpus, (folder, _, _) in CORPORA.items():
        cases = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
        for name, case in sorted(cases.items()):
            key = (corpus, category(name))
            tried[key] += 1
            handled[key] += run(corpus, name, case)
    rows = ["| corpus | bad input | tried | handled |", "|---|---|---:|---:|"]
    for (corpus, title) in sorted(tried):
        rows.append(f"| {corpus} | {title} | {tried[corpus, title]} | {handled[corpus, title]} |")
    rows.append(f"| **all** | | **{sum(tried.values())}** | **{sum(handled.values())}** |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    rows.append(f"\nSlowest case: {SLOWEST[1]}, {SLOWEST[0]:.2f} s (limit {SECONDS:.0f} s); peak RSS of the whole run, "
                f"every case in one process: {peak} MiB (limit {MIB} MiB per case)")
    if peak > MIB:
        raise SystemExit(f"peak RSS {peak} MiB over {MIB} MiB")
    return "\n".join(rows)


if __name__ == "__main__":
    print(main_table())
