#!/usr/bin/env bash
# real-sft-lora as a distributed run: 2 processes (torchrun, gloo on CPU) via --nproc-per-node 2, 8 rows each, so
# the global batch (16) and the schedule equal the one-process run's; held-out greedy exact match at step 0 (base:
# 0.00) and at the end (references/quality.md). Smoke mode: the tiny qwen2. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
build_train_env
smoke eval.generation_samples=2 eval.max_new_tokens=8
time mgt train script/examples/real/sft_lora.yaml --nproc-per-node 2 train.output_dir=outputs/real_sft_ddp \
    train.overwrite_output_dir=true model.name_or_path="$model" train.per_device_train_batch_size=8 "$@" \
    "${SMOKE_ARGS[@]}"
