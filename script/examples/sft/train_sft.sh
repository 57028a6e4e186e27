#!/usr/bin/env bash
# LoRA SFT of a tiny local Qwen2-style model (made here, no hub) on the alpaca + tool-call data in
# script/examples/sft/data: only assistant turns trained, eval loss/perplexity/ROUGE/BLEU-4, final/ with the LoRA
# merged and the adapter kept. Extra arguments are config overrides, e.g. train.max_steps=10.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
tiny_model outputs/tiny-qwen2 qwen2
smoke eval.generation_samples=2 eval.max_new_tokens=8
train_example script/examples/sft/sft_tiny.yaml outputs/sft_tiny "$@"
