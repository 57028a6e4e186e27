#!/usr/bin/env bash
# Serve the embed recipe's MiniLM embedder (trained first if missing) as /v1/embeddings and retrieve the
# held-out QA passages with `client.embeddings.create`: top-1 accuracy in outputs/serve_embed/answers.json.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
need_run outputs/embed_qa script/examples/embed/train_embed.sh
serve_and_query outputs/embed_qa outputs/serve_embed script/examples/serve/query.py embed \
    embed_qa outputs/serve_embed/answers.json script/examples/embed/data/qa_eval.jsonl
