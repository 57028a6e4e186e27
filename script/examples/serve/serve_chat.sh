#!/usr/bin/env bash
# Serve a trained chat model and talk to it with the official openai client: the real-sft-lora recipe's model
# (SmolLM2-135M-Instruct taught ISO dates in words; trained first if outputs/real_sft_lora/final is missing) behind
# `mgtrainer serve` (vLLM, OpenAI-compatible, API key on every route), then chat.completions on 24 held-out
# prompts (greedy, scored by exact match) and one completions call through `openai.OpenAI`.
# Answers: outputs/serve_chat/answers.json; server log: outputs/serve_chat/serve.log. Smoke mode: the tiny qwen2.
# By hand:  mgtrainer serve outputs/real_sft_lora --port 8000     (prints the key and a curl line), then
#           OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=KEY).chat.completions.create(model="real_sft_lora", ...)
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
need_run outputs/real_sft_lora script/examples/real/train_sft_lora.sh
serve_and_query outputs/real_sft_lora outputs/serve_chat script/examples/serve/query.py chat real_sft_lora \
    outputs/serve_chat/answers.json script/examples/real/data/dates_heldout.jsonl
