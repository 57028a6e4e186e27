#!/usr/bin/env bash
# grpo with a rule reward (mgtrainer.rewards:digit_ratio) on generated prompts, from a tiny random model
# made here (no hub); prints the table of reward by step. Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
[ -f script/examples/grpo/data/prompts.jsonl ] || python3 script/examples/grpo/make_data.py
tiny_model outputs/tiny-qwen2 qwen2
train_example script/examples/grpo/rule_tiny.yaml outputs/grpo_rule "$@"
python3 script/examples/grpo/reward_table.py outputs/grpo_rule
