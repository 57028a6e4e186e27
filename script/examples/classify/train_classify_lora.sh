#!/usr/bin/env bash
# The main job's classifier with LoRA instead of full tuning: rank-16 adapters on every linear layer of
# MiniLM (the classification head always trains), merged into final/. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
smoke data.max_samples=24 train.per_device_train_batch_size=8
train_example script/examples/classify/intents_minilm.yaml outputs/classify_intents_lora \
    lora.finetuning_type=lora lora.rank=16 lora.target=all-linear train.learning_rate=1e-3 train.num_train_epochs=3 "$@"
