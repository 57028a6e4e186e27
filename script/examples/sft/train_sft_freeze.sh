#!/usr/bin/env bash
# Freeze tuning: only the last decoder layer (freeze_layers: 1) and the output head of the tiny Qwen2 train,
# every other weight stays as it was. Same data as the LoRA sft recipe. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
tiny_model outputs/tiny-qwen2 qwen2
smoke eval.generation_samples=0
train_example script/examples/sft/sft_tiny.yaml outputs/sft_freeze lora.finetuning_type=freeze lora.freeze_layers=1 \
    train.learning_rate=3e-3 "$@"
