"""The eval samples table: best and worst generations of an eval step, each with a word diff against its
reference (difflib) and the same prompt's output at the baseline eval."""

from __future__ import annotations

import difflib
import re

_WORDS = re.compile(r"\S+|\s+")


def word_diff(reference: str, output: str) -> list[tuple[str, str]]:
    """[(op, text)]: op is "same", "del" (in the reference, missing from the output) or "ins" (only in
    the output); whitespace runs are kept, so joining the same+ins texts gives the output back."""
    ref, out = _WORDS.findall(reference), _WORDS.findall(output)
    parts: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ref, out, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(("same", "".join(out[j1:j2])))
            continue
        if op in ("replace", "delete"):
            parts.append(("del", "".join(ref[i1:i2])))
        if op in ("replace", "insert"):
            parts.append(("ins", "".join(out[j1:j2])))
    return parts


def best_and_worst(samples: list[dict], k: int = 3) -> list[dict]:
    """The k best and k worst samples by ROUGE-L (all of them, sorted, when there are at most 2k)."""
    ranked = sorted(samples, key=lambda s: -s.get("rouge-l", 0.0))
    if len(ranked) <= 2 * k:
        picked = [("best" if i < (len(ranked) + 1) // 2 else "worst", s) for i, s in enumerate(ranked)]
    else:
        picked = [("best", s) for s in ranked[:k]] + [("worst", s) for s in ranked[-k:]]
    return [{"rank": rank, **s} for rank, s in picked]


def sample_rows(samples_by_step: dict[int, list[dict]], k: int = 3) -> tuple[int | None, list[dict]]:
    """(the newest eval step, its best/worst rows with "diff" and "baseline" (step-0 output) added)."""
    if not samples_by_step:
        return None, []
    step = max(samples_by_step)
    first = samples_by_step.get(0, [])
    at_baseline = {s["prompt"]: s["output"] for s in first} if step != 0 else {}
    rows = []
    for s in best_and_worst(samples_by_step[step], k):
        rows.append({**s, "diff": word_diff(s.get("reference", ""), s.get("output", "")),
                     "baseline": at_baseline.get(s["prompt"])})
    return step, rows


def evolution(samples_by_step: dict[int, list[dict]], n: int = 3, most_steps: int = 6) -> tuple[list[int], list[dict]]:
    """(steps, rows): the first n eval prompts' outputs at up to `most_steps` evals (the first, the last and
    evenly spaced ones between), each row {"reference", "cells": [{"output", "rouge-l"} or None per step]}."""
    steps = sorted(samples_by_step)
    if len(steps) > most_steps:
        picks = {round(i * (len(steps) - 1) / (most_steps - 1)) for i in range(most_steps)}
        steps = [steps[i] for i in sorted(picks)]
    if not steps:
        return [], []
    rows = []
    for i, last in enumerate(samples_by_step[steps[-1]][:n]):
        cells = [samples_by_step[s][i] if i < len(samples_by_step[s]) else None for s in steps]
        rows.append({"reference": last.get("reference", ""), "cells": cells})
    return steps, rows
