#!/usr/bin/env bash
# The real-kto-lora recipe trained by LLaMA-Factory instead (backend: llamafactory, its kto stage), then greedy
# answers to the 100 held-out prompts scored by exact match (outputs/real_lf_kto_lora/heldout_generation.json).
# The same settings as mgtrainer's run (30 steps x 8 rows), so the two are comparable (references/quality.md).
# Smoke mode: the tiny qwen2, 2 steps, 8 prompts. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
out=outputs/real_lf_kto_lora
train_example script/examples/real/kto_lora.yaml "$out" backend=llamafactory model.name_or_path="$model" \
    train.max_steps=30 "$@"
score_dates_heldout "$out"
