#!/usr/bin/env bash
# Batch evaluation of a finished model: `mgtrainer eval CFG` loads train.output_dir/final (or --model DIR)
# and scores it on the config's eval data with the task's metrics (here accuracy, macro-F1 of the main
# job's classifier, trained first if missing), without training. Metrics: outputs/eval_batch/metrics.json.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
need_run outputs/classify_intents script/examples/classify/train_classify.sh
mkdir -p outputs/eval_batch
mgt eval script/examples/classify/intents_minilm.yaml train.output_dir=outputs/classify_intents \
    | tee outputs/eval_batch/stdout.txt
python3 script/examples/serve/rows.py last-json outputs/eval_batch/stdout.txt outputs/eval_batch/metrics.json
