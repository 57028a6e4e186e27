#!/usr/bin/env bash
# LoRA DPO of the real SmolLM2-135M-Instruct on the dates pairs (dpo_lora.yaml), then greedy answers to the 100
# held-out prompts scored by exact match (outputs/real_dpo_lora/heldout_generation.json). Smoke mode: the tiny
# qwen2, 2 steps, 8 prompts. Full mode: 15 steps x 8 pairs with an sft term on the chosen answer (task.ftx=1.0,
# LLaMA-Factory's pref_ftx; ~5 min on 2 CPU cores): dpo alone separates the pairs but makes greedy answers worse
# (references/quality.md). Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
model="$(real_model)"
out=outputs/real_dpo_lora
train_example script/examples/real/dpo_lora.yaml "$out" model.name_or_path="$model" task.ftx=1.0 train.max_steps=15 "$@"
prompts=script/examples/real/data/dates_heldout.jsonl
if is_smoke; then head -n 8 "$prompts" >"$out/heldout_prompts.jsonl"; prompts="$out/heldout_prompts.jsonl"; fi
time mgt predict "$out" --input "$prompts" --output "$out/heldout_answers.jsonl" --engine hf --max-new-tokens 16
"$MGT_PY" script/examples/real/make_data.py score "$out/heldout_answers.jsonl" "$out/heldout_generation.json"
