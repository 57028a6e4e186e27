"""Preference records -> token rows for TRL's DPOTrainer / KTOTrainer (what their collators read).

Pairs (dpo, orpo):  {"prompt_ids", "chosen_ids", "rejected_ids"}
Unpaired (kto):     {"prompt_ids", "completion_ids", "label"}

The prompt is rendered with the chat template and the generation prompt; a completion is what the
template renders after it (TRL's rule: the shared token prefix of prompt and prompt+completion). A prompt
longer than max_prompt_length keeps its last tokens (the question nearest the answer); the completion is
cut so prompt + completion fits cutoff_len. A row is dropped, with its reason, when its prompt leaves no
room for a completion or a completion is empty after tokenisation.
"""

from __future__ import annotations

from mgtrainer.driver.tokenize import Encoded, message_dicts


def _ids(tok, msgs: list[dict], tools, gen: bool = False) -> list[int]:
    text = tok.apply_chat_template(msgs, tools=tools or None, tokenize=False, add_generation_prompt=gen)
    return tok(text, add_special_tokens=False).input_ids


def _prefix(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def split_ids(tok, prompt: list[dict], answers: list[list[dict]], tools) -> tuple[list[int], list[list[int]]]:
    """(prompt ids, completion ids per answer) as the template renders prompt + answer."""
    prompt_ids = _ids(tok, prompt, tools, gen=True)
    full = [_ids(tok, prompt + answer, tools) for answer in answers]
    cut = min([len(prompt_ids)] + [_prefix(prompt_ids, ids) for ids in full])
    return prompt_ids[:cut], [ids[cut:] for ids in full]


def _fit(prompt_ids, completions, cutoff_len: int, max_prompt_length: int | None):
    """(prompt ids, completions, truncated) within the limits, or a reason string when nothing fits."""
    truncated = False
    if max_prompt_length and len(prompt_ids) > max_prompt_length:
        prompt_ids, truncated = prompt_ids[-max_prompt_length:], True
    room = cutoff_len - len(prompt_ids)
    if room <= 0:
        return f"prompt of {len(prompt_ids)} tokens leaves no room under cutoff_len {cutoff_len}"
    if any(not ids for ids in completions):
        return "empty completion after tokenisation"
    if any(len(ids) > room for ids in completions):
        completions, truncated = [ids[:room] for ids in completions], True
    return prompt_ids, completions, truncated


def encode_pairs(tok, records, cutoff_len: int, max_prompt_length: int | None = None) -> Encoded:
    """Preference records -> pair rows (prompt_ids, chosen_ids, rejected_ids)."""
    out = Encoded()
    for rec in records:
        prompt, chosen, rejected = (message_dicts(m) for m in (rec.messages, rec.chosen, rec.rejected))
        prompt_ids, (c, r) = split_ids(tok, prompt, [chosen, rejected], rec.tools)
        fit = _fit(prompt_ids, [c, r], cutoff_len, max_prompt_length)
        if isinstance(fit, str):
            out.dropped.append((rec.source, fit))
            continue
        if fit[1][0] == fit[1][1]:
            out.dropped.append((rec.source, "chosen and rejected are the same tokens within cutoff_len"))
            continue
        out.truncated += fit[2]
        out.rows.append({"prompt_ids": fit[0], "chosen_ids": fit[1][0], "rejected_ids": fit[1][1]})
    return out


def encode_unpaired(tok, records, cutoff_len: int, max_prompt_length: int | None = None) -> Encoded:
    """KTO records (a conversation ending with the judged assistant turn, label True/False) -> rows."""
    out = Encoded()
    for rec in records:
        msgs = message_dicts(rec.messages)
        n = len(msgs)
        while n and msgs[n - 1]["role"] == "assistant":
            n -= 1
        prompt_ids, (completion,) = split_ids(tok, msgs[:n], [msgs[n:]], rec.tools)
        fit = _fit(prompt_ids, [completion], cutoff_len, max_prompt_length)
        if isinstance(fit, str):
            out.dropped.append((rec.source, fit))
            continue
        out.truncated += fit[2]
        out.rows.append({"prompt_ids": fit[0], "completion_ids": fit[1][0], "label": bool(rec.label)})
    return out


def summary(enc: Encoded, name: str) -> str:
    lengths = [len(r["prompt_ids"]) + max(len(r.get(k, [])) for k in ("chosen_ids", "rejected_ids", "completion_ids"))
               for r in enc.rows]
    mean = sum(lengths) / max(1, len(lengths))
    return (f"{name}: {len(enc.rows)} rows, mean {mean:.0f} tokens, {enc.truncated} truncated, "
            f"{len(enc.dropped)} dropped")


def say_dropped(enc: Encoded, name: str, shown: int = 20) -> None:
    """Every dropped row with its reason (the first `shown`, then a count) on stderr."""
    import sys

    for source, why in enc.dropped[:shown]:
        print(f"{name}: dropped {source}: {why}", file=sys.stderr)
    if len(enc.dropped) > shown:
        print(f"{name}: ... and {len(enc.dropped) - shown} more dropped rows", file=sys.stderr)
