#!/usr/bin/env bash
# The real-dpo-lora recipe trained by LLaMA-Factory instead (backend: llamafactory, its dpo stage; task.ftx is
# LLaMA-Factory's pref_ftx), then greedy answers to the 100 held-out prompts scored by exact match
# (outputs/real_lf_dpo_lora/heldout_generation.json). The same settings as mgtrainer's run (15 steps x 8 pairs,
# sft term 1.0), so the two are comparable (references/quality.md). Smoke mode: the tiny qwen2, 2 steps, 8
# prompts. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
out=outputs/real_lf_dpo_lora
train_example script/examples/real/dpo_lora.yaml "$out" backend=llamafactory model.name_or_path="$model" \
    task.ftx=1.0 train.max_steps=15 "$@"
score_dates_heldout "$out"
