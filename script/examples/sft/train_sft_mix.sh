#!/usr/bin/env bash
# LoRA sft on three datasets mixed with weights 0.6/0.3/0.1 (sft_mix.yaml). Extra arguments are overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
tiny_model outputs/tiny-qwen2 qwen2
train_example script/examples/sft/sft_mix.yaml outputs/sft_mix "$@"
