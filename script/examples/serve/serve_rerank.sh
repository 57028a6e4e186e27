#!/usr/bin/env bash
# Serve the rerank recipe's cross-encoder (trained first if missing) and rerank 1 positive + 4 negatives
# per held-out query through /rerank with the openai client: share of queries whose positive comes first
# in outputs/serve_rerank/answers.json.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
need_run outputs/rerank_qa script/examples/rerank/train_rerank.sh
serve_and_query outputs/rerank_qa outputs/serve_rerank script/examples/serve/query.py rerank \
    rerank_qa outputs/serve_rerank/answers.json script/examples/embed/data/qa_eval.jsonl
