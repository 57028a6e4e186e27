#!/usr/bin/env bash
# Build (or reuse, instantly) the 'llamafactory' env from env/llamafactory/. Needs only Python >= 3.11; prints the env's path.
# Extra arguments go to `mgtrainer env build` (e.g. --quiet).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_bootstrap.sh"
mgt_env build llamafactory "$@"
