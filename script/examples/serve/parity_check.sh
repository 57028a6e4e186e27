#!/usr/bin/env bash
# The parity check: `mgtrainer serve OUTPUT_DIR --check` starts vLLM on a free port, sends the same inputs
# to it and to the transformers model in final/, and fails (exit 1) unless the served scores equal the
# trained model's within the task's bound. Here: the rm recipe's reward model (trained first if missing).
# Against a server you already run: mgtrainer serve OUT --check --url http://127.0.0.1:8000
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"
need_run outputs/rm_pairs script/examples/rm/train_rm.sh
mkdir -p outputs/parity_check
mgt serve outputs/rm_pairs --check | tee outputs/parity_check/parity.txt
grep -q "PASS" outputs/parity_check/parity.txt
