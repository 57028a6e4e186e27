#!/usr/bin/env bash
# Multi-label classify (full fine-tuning of MiniLM): requests with one or two intents; eval micro/macro-F1.
# Extra arguments are config overrides.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
[ -f outputs/data/intents_multi/eval.jsonl ] || python3 script/examples/classify/make_multilabel.py
smoke data.max_samples=24 train.per_device_train_batch_size=8
train_example script/examples/classify/intents_multilabel.yaml outputs/classify_multilabel "$@"
