#!/usr/bin/env bash
# SimPO (reference-free, length-normalised, target margin gamma) as the orpo task's variant: pref_loss=simpo.
# Same tiny model and pairs as the orpo recipe. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
[ -f script/examples/dpo/data/arith_pairs.jsonl ] || python3 script/examples/dpo/make_data.py
tiny_model outputs/tiny-qwen2 qwen2
train_example script/examples/orpo/orpo_tiny.yaml outputs/simpo_tiny pref_loss=simpo pref_beta=2.0 simpo_gamma=0.5 "$@"
