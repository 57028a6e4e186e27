#!/usr/bin/env bash
# Full fine-tuning (every weight) of the real SmolLM2-135M-Instruct on the dates skill (sft_lora.yaml's data and
# schedule, lr 1e-4: 20x below the LoRA rate, inside the usual 5e-5..1e-4 for a model this size); held-out greedy
# exact match at step 0 (base: 0.00) and at the end (references/quality.md). Smoke mode: the tiny qwen2. Extra
# arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
smoke eval.generation_samples=2 eval.max_new_tokens=8
train_example script/examples/real/sft_lora.yaml outputs/real_sft_full model.name_or_path="$model" \
    lora.finetuning_type=full train.learning_rate=1e-4 "$@"
