#!/usr/bin/env bash
# LoRA SFT of a tiny Qwen2-style model through LLaMA-Factory 0.9.5, on a fresh machine with only Python:
# the llamafactory env is built on first use (env/llamafactory), the tiny model is made locally, the data
# is the small set shipped in script/examples/llamafactory/data. Result: outputs/lf_sft_lora/final
# (LoRA merged, adapter in final/adapter, mgtrainer.json), ready for `mgtrainer serve` / `predict`.
# Extra arguments are LF key=value overrides, e.g. `bash train_lf_sft_lora.sh max_steps=5`.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
MODEL=outputs/tiny-qwen2
[ -f "$MODEL/config.json" ] || mgt env run llamafactory -- python -m mgtrainer model tiny "$MODEL"
lf_smoke
mgt train --llamafactory script/examples/llamafactory/sft_lora.yaml "$@" "${SMOKE_ARGS[@]}"
mgt env run llamafactory -- python script/examples/llamafactory/check_output.py outputs/lf_sft_lora
