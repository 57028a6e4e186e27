#!/usr/bin/env bash
# sft -> rm -> grpo on the generated "answer with a number" task (make_data.py), all on a tiny local model:
#   1. sft: the model learns to answer, half the time with a number, half with words;
#   2. rm: a reward model learns from pairs that numeric answers are preferred;
#   3. grpo: the sft model is tuned with the rm of step 2 as its reward (in process, from rm/final).
# Prints the rm-based reward by step of step 3. Outputs in outputs/grpo_pipeline/{sft,rm,grpo}.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
[ -f script/examples/grpo/data/prompts.jsonl ] || python3 script/examples/grpo/make_data.py
tiny_model outputs/tiny-qwen2 qwen2
build_train_env
for step in sft rm; do
    [ -f "outputs/grpo_pipeline/$step/final/mgtrainer.json" ] || mgt train "script/examples/grpo/$step.yaml" "${SMOKE_ARGS[@]}"
done
mgt train script/examples/grpo/grpo_rm.yaml train.overwrite_output_dir=true "$@" "${SMOKE_ARGS[@]}"
python3 script/examples/grpo/reward_table.py outputs/grpo_pipeline/grpo
