#!/usr/bin/env bash
# Continued pretraining (LoRA) of the real SmolLM2-135M-Instruct on prose about dates (pt_lora.yaml): held-out
# eval_loss and perplexity at step 0 (the base model) and at the end, on the prose of 100 dates never trained on.
# Smoke mode: the tiny qwen2, 2 steps. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
out=outputs/real_pt_lora
train_example script/examples/real/pt_lora.yaml "$out" model.name_or_path="$model" "$@"
