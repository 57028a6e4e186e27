#!/usr/bin/env bash
# Audio classification from the toolkit's CSV, then CSV -> CSV predict (other columns kept, prediction filled).
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
build_train_env
tiny_model outputs/tiny-qwen2-audio qwen2_audio
[ -f outputs/media_sounds/sounds.csv ] || train_py script/examples/audio/make_data.py
mgt data check outputs/media_sounds/sounds.csv
smoke data.max_samples=16
train_example script/examples/audio/sounds.yaml outputs/msft_sounds "$@"
mgt predict outputs/msft_sounds --input outputs/media_sounds/sounds.csv --output outputs/msft_sounds/pred.csv \
    --engine hf --max-new-tokens 3
