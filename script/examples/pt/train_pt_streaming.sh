#!/usr/bin/env bash
# Streaming pretraining: the corpus is read lazily (constant memory, shuffled in a 256-row buffer) instead of
# loaded, so it may be larger than memory; needs train.max_steps and an integer val_size (the first N rows
# are held out). Same tiny Llama and corpus as pt-tiny. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
tiny_model outputs/tiny-llama llama
train_example script/examples/pt/pt_tiny.yaml outputs/pt_streaming data.streaming=true data.buffer_size=256 data.val_size=20 "$@"
