#!/usr/bin/env bash
# Vision SFT on digits, then `predict` (transformers engine: vLLM's CPU llava needs torchvision, see
# references/media.md). Extra arguments are config overrides, e.g. train.max_steps=10.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
build_train_env
tiny_model outputs/tiny-llava llava
[ -f outputs/media_digits/train.json ] || train_py script/examples/vision/make_data.py
mgt data check outputs/media_digits/train.json
smoke data.max_samples=16
train_example script/examples/vision/digits.yaml outputs/msft_digits "$@"
mgt predict outputs/msft_digits --input outputs/media_digits/held.jsonl --output outputs/msft_digits/pred.jsonl \
    --engine hf --max-new-tokens 4
