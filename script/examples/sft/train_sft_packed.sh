#!/usr/bin/env bash
# The pre-tokenised cache: `mgtrainer data pack` tokenises the sft data once into shards (outputs/sft_cache),
# then training reads them (data.packed) instead of tokenising again; the cache's fingerprint must match
# the config (tokenizer, template, cutoff_len, data), else training refuses it. The real-sft-lora run
# (SmolLM2-135M-Instruct, dates in words, held-out exact match at step 0 and at the end) from the cache.
# Smoke mode: the tiny qwen2. Extra arguments are overrides (of both the pack and the run).
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
cfg=script/examples/real/sft_lora.yaml
time mgt data pack "$cfg" model.name_or_path="$model" "$@" -o outputs/sft_cache --num-proc 1
smoke eval.generation_samples=2 eval.max_new_tokens=8
train_example "$cfg" outputs/sft_packed model.name_or_path="$model" data.packed=outputs/sft_cache "$@"
