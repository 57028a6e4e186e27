#!/usr/bin/env bash
# Serve the main job's intent classifier (trained first if outputs/classify_intents/final is missing) and
# classify the held-out intents through vLLM's /classify route with the openai client (its generic post,
# so the key and retries are the client's). Answers + accuracy: outputs/serve_classify/answers.json.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
need_run outputs/classify_intents script/examples/classify/train_classify.sh
serve_and_query outputs/classify_intents outputs/serve_classify script/examples/serve/query.py classify \
    classify_intents outputs/serve_classify/answers.json script/examples/classify/data/intents_eval.jsonl
