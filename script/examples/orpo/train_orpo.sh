#!/usr/bin/env bash
# ORPO (full tuning, no reference model) of a tiny local Qwen2-style model on the arithmetic preference pairs of
# the dpo example (made by script/examples/dpo/make_data.py). Extra arguments are config overrides, e.g.
# pref_loss=simpo pref_beta=2.0 simpo_gamma=0.5.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
[ -f script/examples/dpo/data/arith_pairs.jsonl ] || python3 script/examples/dpo/make_data.py
tiny_model outputs/tiny-qwen2 qwen2
train_example script/examples/orpo/orpo_tiny.yaml outputs/orpo_tiny "$@"
