"""Rule rewards for grpo, named in a config as `function: "mgtrainer.rewards:NAME"` (any `module:function`
with the same signature works).

TRL calls each with keyword arguments: `prompts`, `completions` (strings, or for chat prompts one-turn lists
`[{"role": "assistant", "content": ...}]`), `completion_ids`, and every other dataset column (e.g. `answer`;
a chat row's final answer arrives as `reference`), one value per completion. `kwargs:` of the reward's
config entry are bound first (`{function: "mgtrainer.rewards:length_penalty", kwargs: {max_tokens: 32}}`).
Each returns one float per completion (None = no opinion on that completion). Pure Python, no imports.
"""

from __future__ import annotations

import re

NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def text_of(completion) -> str:
    """The completion's text: the string itself, or the content of its (last) assistant turn."""
    if isinstance(completion, str):
        return completion
    return str(completion[-1].get("content") or "") if completion else ""


def last_number(text: str) -> float | None:
    """The last number written in text (commas as thousands separators), or None."""
    found = NUMBER.findall(text)
    return float(found[-1].replace(",", "")) if found else None


def exact_number(completions, answer=None, reference=None, **_) -> list[float | None]:
    """1.0 when the completion's last number equals the row's `answer` (else its `reference`)'s last
    number, 0.0 otherwise; None for rows without a numeric answer."""
    golds = answer if answer is not None else reference if reference is not None else [None] * len(completions)
    out = []
    for completion, gold in zip(completions, golds):
        want = last_number(str(gold)) if gold is not None else None
        got = last_number(text_of(completion))
        out.append(None if want is None else float(got is not None and abs(got - want) < 1e-6))
    return out


def number_format(completions, **_) -> list[float]:
    """1.0 when the completion's last line is 'The answer is N' or a bare number N, else 0.0."""
    pattern = re.compile(r"^(?:the answer is\s*)?" + NUMBER.pattern + r"\.?$", re.IGNORECASE)
    return [float(bool(pattern.match((text_of(c).strip().splitlines() or [""])[-1].strip()))) for c in completions]


def digit_ratio(completions, **_) -> list[float]:
    """The share of the completion's non-space characters that are digits ("answer with a number"):
    a dense reward a tiny random model can learn in a few dozen steps (references/grpo.md)."""
    out = []
    for c in completions:
        chars = [ch for ch in text_of(c) if not ch.isspace()]
        out.append(sum(ch.isdigit() for ch in chars) / len(chars) if chars else 0.0)
    return out


def length_penalty(completions, completion_ids=None, max_tokens: int = 64, **_) -> list[float]:
    """0.0 up to max_tokens completion tokens (characters / 4 without ids), then -(excess / max_tokens)."""
    sizes = [len(ids) for ids in completion_ids] if completion_ids is not None else \
        [len(text_of(c)) / 4 for c in completions]
    return [-max(0.0, n - max_tokens) / max_tokens for n in sizes]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def token_f1(completions, answer=None, reference=None, **_) -> list[float | None]:
    """Word-overlap F1 between the completion and the row's `answer` (else `reference`), SQuAD-style
    (lowercased words, each counted as often as it occurs): 1.0 for the exact words, partial credit for
    some of them, so a model that gets part of an answer right already has a gradient. None without one."""
    golds = answer if answer is not None else reference if reference is not None else [None] * len(completions)
    out = []
    for completion, gold in zip(completions, golds):
        if gold is None:
            out.append(None)
            continue
        got, want = _words(text_of(completion)), _words(str(gold))
        common = sum(min(got.count(w), want.count(w)) for w in set(want))
        out.append(0.0 if not common else 2 * common / (len(got) + len(want)))
    return out


def _normal(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".")


def exact_text(completions, answer=None, reference=None, **_) -> list[float | None]:
    """1.0 when the completion equals the row's `answer` (else `reference`) up to case, runs of whitespace and
    a final period, else 0.0; None for rows without one. The strict partner of token_f1 (which is blind to
    word order and gives "July 2, 1998" full credit against "2 July 1998")."""
    golds = answer if answer is not None else reference if reference is not None else [None] * len(completions)
    return [None if gold is None else float(_normal(text_of(c)) == _normal(str(gold)))
            for c, gold in zip(completions, golds)]
