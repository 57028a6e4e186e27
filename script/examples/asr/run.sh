#!/usr/bin/env bash
# ASR: train on wav.scp + text, then decode the test list to a Kaldi `text` file with WER/CER against its text.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
command -v espeak-ng >/dev/null || { echo "needs espeak-ng (apt-get install -y espeak-ng)" >&2; exit 2; }
build_train_env
tiny_model outputs/tiny-qwen2-audio qwen2_audio
[ -f outputs/media_asr/train/wav.scp ] || train_py script/examples/asr/make_data.py
mgt data check outputs/media_asr/train/wav.scp
smoke data.max_samples=16
train_example script/examples/asr/words.yaml outputs/msft_asr "$@"
mkdir -p outputs/msft_asr/decode
mgt predict outputs/msft_asr --input outputs/media_asr/test/wav.scp --output outputs/msft_asr/decode/text \
    --engine hf --max-new-tokens 4
