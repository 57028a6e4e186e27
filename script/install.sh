#!/usr/bin/env bash
# Put `mgtrainer` on PATH: bootstraps mgtrainer's light core (a small venv of its own, installed editable
# from this checkout; needs only Python >= 3.11, also where the system pip is "externally managed") and
# writes a shim to ~/.local/bin/mgtrainer (BIN_DIR=... to choose another folder). Heavy backends are
# not installed here: each command builds the env it needs on first use (references/env.md).
#   bash script/install.sh && mgtrainer recipes
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source script/env/_bootstrap.sh
bin="${BIN_DIR:-$HOME/.local/bin}"
mkdir -p "$bin"
tmp="$(mktemp "$bin/.mgtrainer.XXXXXX")"
cat >"$tmp" <<SHIM
#!/bin/sh
# mgtrainer's light core from $(pwd) (written by script/install.sh; run it again after moving the checkout)
exec "$MGT_BOOTSTRAP_PY" -P -m mgtrainer "\$@"
SHIM
chmod 755 "$tmp"
mv -f "$tmp" "$bin/mgtrainer"
echo "mgtrainer: installed $bin/mgtrainer -> $MGT_BOOTSTRAP_PY ($(pwd))"
case ":$PATH:" in
    *":$bin:"*) ;;
    *) echo "mgtrainer: $bin is not on PATH; add it:  export PATH=\"$bin:\$PATH\"  (e.g. in ~/.bashrc)" ;;
esac
