#!/usr/bin/env bash
# Continued pretraining of a tiny local Llama-style model (made here, no hub) on the text corpus in
# script/examples/pt/data, packed into 256-token blocks; prints eval loss and perplexity, leaves final/.
# Extra arguments are config overrides, e.g. train.max_steps=10.
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
tiny_model outputs/tiny-llama llama
train_example script/examples/pt/pt_tiny.yaml outputs/pt_tiny "$@"
