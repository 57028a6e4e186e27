# Sourced by every job script: `source script/env/_bootstrap.sh`. Needs only Python >= 3.11.
#
# Gives a light mgtrainer (core deps only: pydantic, pyyaml, rich, filelock, platformdirs) installed
# editable from this checkout into a small venv of its own, then:
#   mgt ARGS...       runs `python -P -m mgtrainer ARGS...` with it (e.g. mgt env build train), from any folder
#   mgt_env ARGS...   runs `python -P -m mgtrainer.env ARGS...` (env verbs only: the fast path)
#   MGT_BOOTSTRAP_PY  that venv's interpreter
# The venv lives in $MGT_HOME/bootstrap/<key> (key: checkout path, pyproject.toml, Python version), is
# built in a temp folder and renamed into place, so concurrent or interrupted bootstraps are harmless.

mgt_bootstrap() {
    local repo py home key dest tmp
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    py="${MGT_BOOTSTRAP_PYTHON:-$(command -v python3 || command -v python)}"
    home="${MGT_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/mgtrainer}"
    key="$({ echo "$repo $py"; "$py" -V 2>&1; cat "$repo/pyproject.toml"; } | cksum | cut -d' ' -f1)"
    dest="$home/bootstrap/$key"
    if [ ! -e "$dest/.mgt-ready" ]; then
        if [ -z "$py" ] || ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "mgtrainer: needs Python >= 3.11 (set MGT_BOOTSTRAP_PYTHON); found: ${py:-none}" >&2
            return 2
        fi
        echo "mgtrainer: bootstrapping the light mgtrainer into $dest" >&2
        mkdir -p "$home/bootstrap"
        tmp="$(mktemp -d "$home/bootstrap/.tmp.XXXXXX")"
        if "$py" -m venv "$tmp" && "$tmp/bin/python" -m pip install -q --disable-pip-version-check -e "$repo" \
            && touch "$tmp/.mgt-ready"; then
            mv -T "$tmp" "$dest" 2>/dev/null || rm -rf "$tmp"   # lost a race: another one is in place
        else
            rm -rf "$tmp"
            echo "mgtrainer: bootstrap failed (pip could not install $repo)" >&2
            return 2
        fi
    fi
    MGT_BOOTSTRAP_PY="$dest/bin/python"
}

# -P: the current folder is not put on sys.path, so a folder named `mgtrainer` there (a checkout, an
# output folder) cannot shadow the installed package.
mgt() { "$MGT_BOOTSTRAP_PY" -P -m mgtrainer "$@"; }
mgt_env() { "$MGT_BOOTSTRAP_PY" -P -m mgtrainer.env "$@"; }

mgt_bootstrap || { [ "${BASH_SOURCE[0]}" != "$0" ] && return 2 || exit 2; }
