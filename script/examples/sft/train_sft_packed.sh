#!/usr/bin/env bash
# The pre-tokenised cache: `mgtrainer data pack` tokenises the sft data once into shards (outputs/sft_cache),
# then training reads them (data.packed) instead of tokenising again; the cache's fingerprint must match
# the config (tokenizer, template, cutoff_len, data), else training refuses it. Extra arguments are overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
tiny_model outputs/tiny-qwen2 qwen2
time mgt data pack script/examples/sft/sft_tiny.yaml -o outputs/sft_cache --num-proc 1
smoke eval.generation_samples=0
train_example script/examples/sft/sft_tiny.yaml outputs/sft_packed data.packed=outputs/sft_cache "$@"
