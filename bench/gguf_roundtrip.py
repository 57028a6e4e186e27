"""A model folder and its GGUF export, loaded back with transformers' GGUF loader: greedy answers to the same chat
prompts and the largest logit difference on them. Prints a table row per file.

  python bench/gguf_roundtrip.py MODEL_DIR PROMPTS.jsonl N FILE.gguf [FILE.gguf ...]

PROMPTS.jsonl: chat rows (messages; the last turn, the reference, is dropped). The GGUF's own tokenizer and chat
template render the prompts for its side (they came from the same folder, so they must agree).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def answers(model, tok, prompts, max_new_tokens=16):
    out, logits = [], []
    for msgs in prompts:
        ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.no_grad():
            logits.append(model(**ids).logits[0, -1])
            gen = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
        out.append(tok.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return out, logits


def main(model_dir: str, prompts_file: str, n: str, *files: str) -> dict:
    rows = [json.loads(x) for x in Path(prompts_file).read_text().splitlines() if x.strip()][: int(n)]
    prompts = [r["messages"][:-1] for r in rows]
    ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    base_answers, base_logits = answers(ref, AutoTokenizer.from_pretrained(model_dir), prompts)
    result = {}
    print("| file | prompts | greedy answers equal | max abs logit difference (last prompt token) |")
    print("|---|---|---|---|")
    for f in files:
        path = Path(f)
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
        got, logits = answers(model, tok, prompts)
        same = sum(a == b for a, b in zip(base_answers, got))
        diff = max((a - b).abs().max().item() for a, b in zip(base_logits, logits))
        result[path.name] = {"equal": same, "prompts": len(prompts), "max_logit_diff": diff,
                             "answers": got[:3], "reference": base_answers[:3]}
        print(f"| {path.name} | {len(prompts)} | {same} | {diff:.4g} |")
    return result


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
