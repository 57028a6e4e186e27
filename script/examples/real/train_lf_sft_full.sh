#!/usr/bin/env bash
# The real-sft-full recipe (every weight, lr 1e-4) trained by LLaMA-Factory instead (backend: llamafactory, the
# tokenizer's own template), then greedy answers to the 100 held-out prompts scored by exact match
# (outputs/real_lf_sft_full/heldout_generation.json). Smoke mode: the tiny qwen2, 2 steps, 8 prompts. Extra
# arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
out=outputs/real_lf_sft_full
train_example script/examples/real/sft_lora.yaml "$out" backend=llamafactory model.name_or_path="$model" \
    lora.finetuning_type=full train.learning_rate=1e-4 data.eval=null train.eval_strategy=no \
    eval.generation_samples=0 "$@"
score_dates_heldout "$out"
