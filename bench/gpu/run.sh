#!/usr/bin/env bash
# GPU check for one NVIDIA GPU machine without network, < 8 minutes (references/scale.md):
# builds the train env from the locks using only wheels in $MGT_WHEELS, makes a small Qwen2-style model
# and data locally, trains 1-GPU bf16 sft plain, with FSDP and with ZeRO-3 through `mgtrainer train`,
# then prints tokens/s and peak GPU memory next to TRL's SFTTrainer on the same rows.
#   MGT_WHEELS=/path/to/wheels bash bench/gpu/run.sh
set -euo pipefail
fail() { echo "bench/gpu/run.sh: $*" >&2; exit 2; }
[ -n "${MGT_WHEELS:-}" ] && [ -d "$MGT_WHEELS" ] || fail "set MGT_WHEELS to a folder of wheels for env/train (CUDA torch included); got '${MGT_WHEELS:-}'"
command -v nvidia-smi >/dev/null || fail "no NVIDIA GPU here (nvidia-smi not found)"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export PIP_NO_INDEX=1 PIP_FIND_LINKS="$MGT_WHEELS" UV_NO_INDEX=1 UV_FIND_LINKS="$MGT_WHEELS" HF_HUB_OFFLINE=1
# shellcheck source=/dev/null
source script/env/_bootstrap.sh
py="$(mgt env build train | tail -n 1)/bin/python"
work="$(mktemp -d)"
"$py" -m mgtrainer model tiny "$work/model" --hidden 512 --layers 8 --heads 8 --vocab-size 32000 >/dev/null
"$py" -c "import sys; sys.path.insert(0, 'bench'); from pathlib import Path; from pack import generate; generate(Path('$work/sft.jsonl'), 4000)"
"$py" bench/gpu/compare.py "$work"
