#!/usr/bin/env bash
# The whole test suite on a fresh machine (what CI runs): bootstrap mgtrainer's light core, build the
# `dev` env from env/dev (train + test tools), then run pytest inside it. Heavy tests (real env builds,
# real vLLM servers, a real LLaMA-Factory run) are included; pass pytest arguments to narrow it, e.g.
#   bash script/test.sh -m "not heavy"      # the quick run, a few minutes
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source script/env/_bootstrap.sh
command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium) \
    || echo "test.sh: chromium not installed (needs root); the report's browser tests will fail" >&2
# vLLM's audio decoding (soundfile 0.14's wheel loads the system libsndfile): the serve env's import check needs it
ldconfig -p | grep -q libsndfile || (apt-get update && apt-get install -y --no-install-recommends libsndfile1) \
    || echo "test.sh: libsndfile1 not installed (needs root); the serve env's import check will fail" >&2
command -v espeak-ng >/dev/null || (apt-get update && apt-get install -y --no-install-recommends espeak-ng) \
    || echo "test.sh: espeak-ng not installed (needs root); the media tests use tones only" >&2
mgt_env build dev
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$MGT_BOOTSTRAP_PY" -m mgtrainer.env run dev -- python -m pytest -ra --durations=25 "$@"
