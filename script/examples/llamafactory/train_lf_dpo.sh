#!/usr/bin/env bash
# LoRA DPO of the tiny Qwen2-style model through LLaMA-Factory 0.9.5 (its own env, built on first use), on
# the dpo recipe's arithmetic data. Result: outputs/lf_dpo_lora/final (LoRA merged, mgtrainer.json).
# Extra arguments are LF key=value overrides, e.g. max_steps=5.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
[ -f script/examples/dpo/data/arith_pairs.jsonl ] || python3 script/examples/dpo/make_data.py
MODEL=outputs/tiny-qwen2
[ -f "$MODEL/config.json" ] || mgt env run llamafactory -- python -m mgtrainer model tiny "$MODEL"
lf_smoke
mgt train --llamafactory script/examples/llamafactory/dpo_lora.yaml "$@" "${SMOKE_ARGS[@]}"
mgt env run llamafactory -- python script/examples/llamafactory/check_output.py outputs/lf_dpo_lora
