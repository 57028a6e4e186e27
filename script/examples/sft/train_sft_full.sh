#!/usr/bin/env bash
# Full-parameter sft of the tiny Qwen2 on the same data as the LoRA sft recipe. Extra arguments are overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
tiny_model outputs/tiny-qwen2 qwen2
smoke eval.generation_samples=0
train_example script/examples/sft/sft_tiny.yaml outputs/sft_full lora.finetuning_type=full train.learning_rate=2e-3 "$@"
