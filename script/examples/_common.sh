# Sourced by the example scripts: run from the repo root with the bootstrap `mgt` command, offline.
#   train_example CFG.yaml OUTPUT_DIR [overrides...]   builds the train env, trains, says where things are
# An example owns its OUTPUT_DIR: running it again replaces its last run (train.overwrite_output_dir=true;
# pass train.overwrite_output_dir=false, or another train.output_dir, to keep it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source script/env/_bootstrap.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

train_example() {
    local cfg="$1" out="$2"
    shift 2
    mgt env build train
    time mgt train "$cfg" train.output_dir="$out" train.overwrite_output_dir=true "$@"
    echo "final model: $out/final   metrics: $out/metrics.jsonl   plots: $out/plots/"
}
