#!/usr/bin/env bash
# CSV -> CSV batch prediction: the held-out intents as a CSV (text,label), `mgtrainer predict` writes the
# same rows plus the predicted label and its probability (vLLM's offline engine; --engine hf uses
# transformers). The main job's classifier is trained first if missing. Accuracy: outputs/predict_csv/scores.json.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
need_run outputs/classify_intents script/examples/classify/train_classify.sh
mkdir -p outputs/predict_csv
python3 script/examples/serve/rows.py to-csv script/examples/classify/data/intents_eval.jsonl outputs/predict_csv/intents.csv
ENGINE="${ENGINE:-vllm}"
time mgt predict outputs/classify_intents --input outputs/predict_csv/intents.csv \
    --output outputs/predict_csv/predicted.csv --engine "$ENGINE"
python3 script/examples/serve/rows.py score outputs/predict_csv/predicted.csv outputs/predict_csv/scores.json
