"""Serving pieces the task modules share: reading predict rows, and the two kinds of parity check (a Verdict).

Generation tasks compare greedy token ids; pooling tasks compare numbers (probabilities, scores,
vectors). A task module binds the ones it needs (e.g. `from mgtrainer.driver.serving import
same_generations as compare`). Light: no torch; a tokenizer is passed in where one is needed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from mgtrainer.errors import MgtError

PARITY_TOKENS = 32  # greedy tokens generated per probe row by `serve --check`
COSINE_MIN = 0.9999
ABS_TOL = 1e-4
TEXT_KEYS = ("text", "sentence", "content", "input", "prompt")
PASSAGE_KEYS = ("passage", "document", "text")


# ---------------------------------------------------------------------------------------- rows

@dataclass
class Verdict:
    """One parity comparison: `metric` over the probe rows is `value`, which must be within `limit`."""

    endpoint: str
    metric: str
    value: float
    limit: float
    ok: bool

def first(row, keys: tuple[str, ...], what: str) -> str:
    """The first non-empty of keys in row; a one-line error naming row.where ("FILE:LINE") if none."""
    for key in keys:
        if row.get(key) not in (None, ""):
            return str(row[key])
    raise MgtError(f"{row.where}: no {what} ({', '.join(keys)}); expected one of these columns")


def messages_of(row) -> list[dict] | None:
    """The row's chat messages (a list, or a JSON string of one in CSV), or None."""
    value = row.get("messages")
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise MgtError(f"{row.where}: messages is not JSON; expected a list of {{role, content}}") from None
    if not isinstance(value, list) or not all(isinstance(m, dict) and "role" in m for m in value):
        raise MgtError(f"{row.where}: messages is not a list of {{role, content}} (messages)")
    return [{"role": m["role"], "content": m.get("content") or ""} for m in value]


def chat_ids(tok, messages: list[dict]) -> list[int]:
    """Prompt token ids of a conversation rendered with the chat template, ready for the answer."""
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tok(text, add_special_tokens=False).input_ids


def no_settings(manifest) -> dict:
    return {}


# ----------------------------------------------------------------------------- chat generation
# sft and grpo (their output is a chat model): predict rows -> prompt ids, the parity probe, the served call
CHAT_PROBE = [{"messages": [{"role": "user", "content": "What is the capital of France?"}]},
              {"prompt": "Give three tips for staying healthy."},
              {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                            {"role": "user", "content": "Translate the sentence into French."}]}]


def chat_prompt(row) -> list[dict]:
    """predict: messages (a trailing assistant turn, the reference answer, is dropped), or prompt /
    instruction (+ input, system) as one user turn."""
    msgs = messages_of(row)
    if msgs is None:
        text = first(row, ("prompt", "instruction", "input", "text"), "prompt")
        if row.get("instruction") and row.get("input"):
            text = f"{row['instruction']}\n{row['input']}"
        msgs = ([{"role": "system", "content": str(row["system"])}] if row.get("system") else [])
        msgs.append({"role": "user", "content": text})
    while msgs and msgs[-1]["role"] == "assistant":
        msgs = msgs[:-1]
    if not msgs:
        raise MgtError(f"{row.where}: no prompt turn in messages; expected a user turn to answer")
    return msgs


def chat_request(row, manifest, tok) -> list[int]:
    return chat_ids(tok, chat_prompt(row))


def chat_probe(manifest) -> list[dict]:
    return CHAT_PROBE


def chat_served(post, rows: list, requests: list) -> tuple[str, list]:
    """Greedy /v1/chat/completions per probe conversation, as token ids."""
    body = {"temperature": 0, "max_tokens": PARITY_TOKENS, "return_token_ids": True}
    return "/v1/chat/completions", [post("/v1/chat/completions", {"messages": chat_prompt(r), **body})
                                    ["choices"][0]["token_ids"] for r in rows]


# ---------------------------------------------------------------------------------- generation
def generate(engine, requests: list, max_new_tokens: int) -> list:
    return engine.generate(requests, max_new_tokens)


def generated_text(output, manifest, tok) -> dict:
    return {"prediction": tok.decode(output, skip_special_tokens=True)}


def completions(post, rows: list, requests: list) -> tuple[str, list]:
    """Greedy /v1/completions of the prompt ids, as token ids."""
    body = {"prompt": requests, "temperature": 0, "max_tokens": PARITY_TOKENS, "return_token_ids": True}
    choices = sorted(post("/v1/completions", body)["choices"], key=lambda c: c["index"])
    return "/v1/completions", [c["token_ids"] for c in choices]


def same_generations(endpoint: str, ref: list, got: list, eos: set[int]) -> Verdict:
    same = sum(_trim(a, eos) == _trim(b, eos) for a, b in zip(ref, got))
    return Verdict(endpoint, f"identical greedy generations ({PARITY_TOKENS} tokens)", same, len(ref),
                   same == len(ref))


def _trim(ids: list[int], eos: set[int]) -> list[int]:
    ids = list(ids)[:PARITY_TOKENS]
    return ids[:-1] if ids and ids[-1] in eos else ids


# ------------------------------------------------------------------------------------- pooling
def classify_probs(post, requests: list) -> list:
    """The /classify answer's probabilities per input, in input order."""
    data = post("/classify", {"input": requests})["data"]
    return [d["probs"] for d in sorted(data, key=lambda d: d["index"])]


def max_abs_diff(endpoint: str, ref: list, got: list, what: str) -> Verdict:
    flat = [(x, y) for a, b in zip(ref, got) for x, y in zip(_floats(a), _floats(b))]
    worst = max(abs(x - y) for x, y in flat)
    return Verdict(endpoint, what, worst, ABS_TOL, worst <= ABS_TOL)


def same_scores(endpoint: str, ref: list, got: list, eos: set[int]) -> Verdict:
    return max_abs_diff(endpoint, ref, got, "max |score diff|")


def min_cosine(endpoint: str, ref: list, got: list, eos: set[int]) -> Verdict:
    worst = min(_cosine(a, b) for a, b in zip(ref, got))
    return Verdict(endpoint, "min cosine", worst, COSINE_MIN, worst >= COSINE_MIN)


def _floats(x) -> list[float]:
    return [float(v) for v in x] if isinstance(x, (list, tuple)) else [float(x)]


def _cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)) or 1.0)
