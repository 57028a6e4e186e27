#!/usr/bin/env bash
# LoRA ORPO of the real SmolLM2-135M-Instruct on the dates pairs (orpo_lora.yaml), then greedy answers to the 100
# held-out prompts scored by exact match (outputs/real_orpo_lora/heldout_generation.json). Smoke mode: the tiny
# qwen2, 2 steps, 8 prompts. Full mode: 15 steps x 8 pairs (~5 min on 2 CPU cores). Extra arguments are config
# overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
out=outputs/real_orpo_lora
train_example script/examples/real/orpo_lora.yaml "$out" model.name_or_path="$model" train.max_steps=15 "$@"
score_dates_heldout "$out"
