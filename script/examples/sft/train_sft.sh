#!/usr/bin/env bash
# LoRA SFT of a tiny local Qwen2-style model (made here, no hub) on the alpaca + tool-call data in
# script/examples/sft/data: only assistant turns trained, eval loss/perplexity/ROUGE/BLEU-4, final/ with the LoRA
# merged and the adapter kept. Extra arguments are config overrides, e.g. train.max_steps=10.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
[ -f outputs/tiny-qwen2/config.json ] || mgt model tiny outputs/tiny-qwen2 --arch qwen2
mgt train script/examples/sft/sft_tiny.yaml train.overwrite_output_dir=true "$@"  # re-running replaces its last run
