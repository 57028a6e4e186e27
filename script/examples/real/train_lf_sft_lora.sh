#!/usr/bin/env bash
# The real-sft-lora recipe trained by LLaMA-Factory instead (backend: llamafactory; its own env, trainer and
# template handling: template unset, so LF renders with the tokenizer's own chat template), then greedy answers
# to the 100 held-out prompts scored by exact match (outputs/real_lf_sft_lora/heldout_generation.json). The same
# settings as mgtrainer's run, so the two are comparable (references/quality.md). Smoke mode: the tiny qwen2,
# 2 steps, 8 prompts. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
out=outputs/real_lf_sft_lora
# LF evaluates loss only: no step-0 generation eval, no eval set; the held-out score comes after training
train_example script/examples/real/sft_lora.yaml "$out" backend=llamafactory model.name_or_path="$model" \
    data.eval=null train.eval_strategy=no eval.generation_samples=0 "$@"
score_dates_heldout "$out"
