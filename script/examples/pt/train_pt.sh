#!/usr/bin/env bash
# Continued pretraining of a tiny local Llama-style model (made here, no hub) on c4 + wiki demo text from
# ../shared/data, packed into 256-token blocks; prints eval loss and perplexity, leaves final/.
# Extra arguments are config overrides, e.g. train.max_steps=10.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
source script/env/_bootstrap.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

[ -f outputs/tiny-llama/config.json ] || mgt model tiny outputs/tiny-llama --arch llama
mgt train script/examples/pt/pt_tiny.yaml "$@"
