#!/usr/bin/env bash
# LoRA SimPO of the real SmolLM2-135M-Instruct on the dates pairs (simpo_lora.yaml), then greedy answers to the 100
# held-out prompts scored by exact match (outputs/real_simpo_lora/heldout_generation.json). Smoke mode: the tiny
# qwen2, 2 steps, 8 prompts. Full mode: 20 steps x 8 pairs with an sft term on the chosen answer (task.ftx=1.0,
# LLaMA-Factory's pref_ftx, as CPO-SimPO; ~5 min on 2 CPU cores): simpo alone ranks the held-out pairs right but its
# greedy answers do not improve (references/quality.md). Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
out=outputs/real_simpo_lora
train_example script/examples/real/simpo_lora.yaml "$out" model.name_or_path="$model" task.ftx=1.0 train.max_steps=20 train.eval_on_start=true "$@"
score_dates_heldout "$out"
