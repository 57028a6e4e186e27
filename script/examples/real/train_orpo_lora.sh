#!/usr/bin/env bash
# LoRA ORPO of the real SmolLM2-135M-Instruct on the dates pairs (orpo_lora.yaml), then greedy answers to the 100
# held-out prompts scored by exact match (outputs/real_orpo_lora/heldout_generation.json). Smoke mode: the tiny
# qwen2, 2 steps, 8 prompts. Full mode: 15 steps x 8 pairs (~5 min on 2 CPU cores). Extra arguments are config
# overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
out=outputs/real_orpo_lora
train_example script/examples/real/orpo_lora.yaml "$out" model.name_or_path="$model" train.max_steps=15 "$@"
prompts=script/examples/real/data/dates_heldout.jsonl
if is_smoke; then head -n 8 "$prompts" >"$out/heldout_prompts.jsonl"; prompts="$out/heldout_prompts.jsonl"; fi
time mgt predict "$out" --input "$prompts" --output "$out/heldout_answers.jsonl" --engine hf --max-new-tokens 16
"$MGT_PY" script/examples/real/make_data.py score "$out/heldout_answers.jsonl" "$out/heldout_generation.json"
