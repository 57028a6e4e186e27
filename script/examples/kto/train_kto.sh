#!/usr/bin/env bash
# KTO (LoRA) of a tiny local Qwen2-style model on judged arithmetic answers (script/examples/kto/data, made by
# script/examples/dpo/make_data.py). Extra arguments are config overrides, e.g. train.max_steps=10.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
[ -f script/examples/kto/data/arith_kto.json ] || python3 script/examples/dpo/make_data.py
tiny_model outputs/tiny-qwen2 qwen2
train_example script/examples/kto/kto_tiny.yaml outputs/kto_tiny "$@"
