#!/usr/bin/env bash
# Streaming pretraining: the corpus is read lazily (constant memory, shuffled in a 256-row buffer) instead of
# loaded, so it may be larger than memory; needs train.max_steps (a stream has no length). The real-pt-lora run
# (SmolLM2-135M-Instruct, LoRA, prose about dates; held-out perplexity at step 0 and at the end) read as a
# stream. Smoke mode: the tiny qwen2. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
train_example script/examples/real/pt_lora.yaml outputs/pt_streaming model.name_or_path="$model" \
    data.streaming=true data.buffer_size=256 train.max_steps=22 "$@"
