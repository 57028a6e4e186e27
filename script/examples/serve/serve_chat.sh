#!/usr/bin/env bash
# Serve a trained chat model and talk to it with the official openai client: the LoRA sft recipe's model
# (trained first if outputs/sft_tiny/final is missing) behind `mgtrainer serve` (vLLM, OpenAI-compatible,
# API key on every route), then chat.completions and completions through `openai.OpenAI`.
# Answers: outputs/serve_chat/answers.json; server log: outputs/serve_chat/serve.log.
# By hand:  mgtrainer serve outputs/sft_tiny --port 8000     (prints the key and a curl line), then
#           OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=KEY).chat.completions.create(model="sft_tiny", ...)
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
need_run outputs/sft_tiny script/examples/sft/train_sft.sh
serve_and_query outputs/sft_tiny outputs/serve_chat script/examples/serve/query.py chat sft_tiny outputs/serve_chat/answers.json
