#!/usr/bin/env bash
# LoRA SFT of the real SmolLM2-135M-Instruct (package index, no hub) on the dates skill it lacks; prints held-out
# greedy exact match (base: 0.00; references/quality.md). ~5 min on 2 CPU cores. Smoke mode: the tiny qwen2. Extra
# arguments are config overrides, e.g. train.num_train_epochs=2.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
smoke eval.generation_samples=2 eval.max_new_tokens=8
train_example script/examples/real/sft_lora.yaml outputs/real_sft_lora model.name_or_path="$model" "$@"
