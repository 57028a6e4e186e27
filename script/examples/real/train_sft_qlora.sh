#!/usr/bin/env bash
# QLoRA: real-sft-lora's run with the base weights of SmolLM2-135M-Instruct in 4 bits (bitsandbytes nf4, double
# quantization, its CPU backend; model.quantization_bit=4, LLaMA-Factory's name). final/ merges the adapter into
# the base reloaded in float32, as LLaMA-Factory exports a QLoRA run. Held-out greedy exact match at step 0 and
# at the end (references/quality.md). Smoke mode: the tiny qwen2, 4-bit too. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
smoke eval.generation_samples=2 eval.max_new_tokens=8
train_example script/examples/real/sft_lora.yaml outputs/real_sft_qlora model.name_or_path="$model" \
    model.quantization_bit=4 "$@"
