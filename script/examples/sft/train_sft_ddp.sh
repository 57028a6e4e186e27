#!/usr/bin/env bash
# Distributed launch: the same sft run as 2 processes on this machine (torchrun under `mgtrainer train
# --nproc-per-node 2`; gloo on CPU, NCCL on GPUs): each process reads its share of every batch, gradients
# are all-reduced, rank 0 writes final/. Multi-node: add --nnodes M --node-rank R --rdzv-endpoint HOST:PORT.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
tiny_model outputs/tiny-qwen2 qwen2
build_train_env
smoke eval.generation_samples=0
time mgt train script/examples/sft/sft_tiny.yaml --nproc-per-node 2 train.output_dir=outputs/sft_ddp \
    train.overwrite_output_dir=true train.per_device_train_batch_size=4 "$@" "${SMOKE_ARGS[@]}"
