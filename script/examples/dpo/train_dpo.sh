#!/usr/bin/env bash
# DPO (LoRA) of a tiny local Qwen2-style model (made here, no hub) on the arithmetic preference pairs in
# script/examples/dpo/data (TRL rows + Anthropic-HH transcripts); eval reward accuracy/margins; final/ with the
# LoRA merged. Extra arguments are config overrides, e.g. train.max_steps=10 or pref_loss=simpo.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
[ -f script/examples/dpo/data/arith_pairs.jsonl ] || python3 script/examples/dpo/make_data.py
tiny_model outputs/tiny-qwen2 qwen2
train_example script/examples/dpo/dpo_tiny.yaml outputs/dpo_tiny "$@"
