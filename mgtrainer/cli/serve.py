"""Verbs of serving: `serve OUTPUT_DIR [--check] [-- vllm args]` and `predict`.

Nothing heavy at import time: vLLM runs in the serve env (built on demand by mgtrainer.env); the
parity check and `predict` re-run themselves there when this interpreter lacks what they need.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from mgtrainer.cli.reexec import in_env


def _options(args):
    from mgtrainer.serve.vllm import ServeOptions

    return ServeOptions(host=args.host, port=args.port, api_key=args.api_key, dtype=args.dtype,
                        max_model_len=args.max_model_len, kv_cache_space_gib=args.kv_cache_gib,
                        extra_args=list(args.vllm_args), served_model_name=args.served_model_name,
                        adapters=_adapters(args.adapter))


def _adapters(given: list[str] | None) -> list[tuple[str, str]]:
    """--adapter NAME=OUT (repeatable) -> [(NAME, OUT)]."""
    from mgtrainer.errors import MgtError

    out = []
    for item in given or []:
        name, sep, path = item.partition("=")
        if not (sep and name.strip() and path.strip()):
            raise MgtError(f"--adapter {item}: expected NAME=OUT (the name requests send as `model`, a LoRA run's "
                           "output folder or a PEFT adapter folder)")
        out.append((name.strip(), path.strip()))
    return out


def _chat(args) -> int:
    if not args.url:  # transformers in the train env; with --url only the openai client, in the serve env
        code = in_env("train", ["torch", "transformers"])
    else:
        code = in_env("serve", ["openai"])
    if code is not None:
        return code
    from mgtrainer.app.chat import chat

    return chat(args.output_dir, args.url, args.max_new_tokens, args.temperature, args.model)


def _serve(args) -> int:
    from mgtrainer import manifest as mf

    if not args.adapter:
        mf.read(args.output_dir)  # a clear error before anything starts
    if args.check:
        return _check(args)
    from mgtrainer.serve.banner import banner
    from mgtrainer.serve.vllm import Server, resolve_api_key

    opts = _options(args)
    opts.api_key, source = resolve_api_key(args.api_key)
    server = Server(args.output_dir, opts)
    print(f"mgtrainer: starting vLLM for {args.output_dir} (log: {server.log_path}) ...", file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        server.start(timeout=args.timeout)
        print(banner(server, source), flush=True)
        return server.proc.wait()
    except KeyboardInterrupt:
        print("mgtrainer: stopping vLLM ...", file=sys.stderr, flush=True)
        return 0
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _check(args) -> int:
    code = in_env("serve", ["torch", "transformers"])
    if code is not None:
        return code
    from mgtrainer.serve.check import report
    from mgtrainer.serve.vllm import Server, resolve_api_key

    opts = _options(args)
    if args.url:
        key = args.api_key or os.environ.get("MGT_API_KEY")  # the running server's key, if it has one
        results = _check_each(args, opts, args.url.rstrip("/"), key)
    else:
        opts.api_key = resolve_api_key(args.api_key)[0]
        if args.port == 8000:
            opts.port = 0  # a free port: a check never collides with a running server
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            with Server(args.output_dir, opts).start(timeout=args.timeout) as server:
                results = _check_each(args, opts, server.url, opts.api_key)
        finally:
            signal.signal(signal.SIGTERM, previous)
    for name, task, result in results:
        print(report(result, task) + (f"  (adapter {name})" if opts.adapters else ""))
    return 0 if all(result.ok for _, _, result in results) else 1


def _check_each(args, opts, url: str, key: str | None) -> list:
    """[(name, task, verdict)]: the model itself, or each adapter (its run's transformers model against the server
    answering to its name); a bare PEFT folder has no run to compare with and is refused."""
    from mgtrainer import manifest as mf
    from mgtrainer.errors import MgtError
    from mgtrainer.serve.check import check
    from mgtrainer.serve.vllm import adapter_run

    if not opts.adapters:
        name = args.served_model_name or _served_name(args.output_dir)
        return [(None, mf.read(args.output_dir).task, check(args.output_dir, url, name, key))]
    out = []
    for name, given in opts.adapters:
        run = adapter_run(given)
        if run is None:
            raise MgtError(f"{given}: --check compares each adapter with its run's transformers model; expected "
                           f"a LoRA run's output folder for --adapter {name} (a bare PEFT folder has none)")
        out.append((name, mf.read(run).task, check(run, url, name, key)))
    return out


def _served_name(path) -> str:
    from mgtrainer.serve.vllm import model_name

    return model_name(path)


def _predict(args) -> int:
    from pathlib import Path

    from mgtrainer import manifest as mf
    from mgtrainer.errors import MgtError

    if Path(args.output).resolve() == Path(args.input).resolve():
        raise MgtError(f"{args.output}:1: output is the input file; expected a new path (inputs are never overwritten)")
    mf.read(args.output_dir)
    if args.engine == "vllm":  # a model vLLM cannot load fails here, before the serve env starts
        from mgtrainer.serve.vllm import ServeOptions, vllm_args

        vllm_args(args.output_dir, ServeOptions())
    # the hf engine needs what training needs (torch, transformers, peft): the train env, not vLLM's
    code = in_env("serve", ["vllm"]) if args.engine == "vllm" else in_env("train", ["torch", "transformers", "peft"])
    if code is not None:
        return code
    from mgtrainer.serve.predict import predict

    predict(args.output_dir, args.input, args.output, engine=args.engine, max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size)
    return 0


class _DashDashParser(argparse.ArgumentParser):
    """Everything after the first `--` is kept verbatim in `vllm_args` (argparse alone would try to
    match it against positionals when options sit between OUTPUT_DIR and `--`)."""

    def parse_known_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        rest = args[args.index("--") + 1 :] if "--" in args else []
        head = args[: args.index("--")] if "--" in args else args
        namespace, unknown = super().parse_known_args(head, namespace)
        namespace.vllm_args = rest
        return namespace, unknown


def register(sub) -> None:
    default_class, sub._parser_class = sub._parser_class, _DashDashParser  # serve only; restored below
    p = sub.add_parser("serve", help="serve a trained model with vLLM (OpenAI-compatible + pooling endpoints)",
                       description="Serve OUTPUT_DIR (or its final/) with `vllm serve`: endpoints per task from "
                       "the manifest; arguments after `--` go to vLLM unchanged.")
    p.add_argument("output_dir", help="a training output folder or its final/ (with --adapter: the base model, "
                   "a folder, a run or a packaged model name)")
    p.add_argument("--adapter", action="append", metavar="NAME=OUT",
                   help="serve the LoRA adapter of OUT (a run or a PEFT folder) on the base, answering to model NAME; "
                   "repeat for several on one server")
    p.add_argument("--check", action="store_true",
                   help="parity: served outputs must equal the transformers forward (exit 1 if not)")
    p.add_argument("--url", help="with --check: check this running server instead of starting one")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = a free one)")
    p.add_argument("--api-key", help="bearer token clients must send (default $MGT_API_KEY, else a generated one)")
    p.add_argument("--dtype", help="vLLM dtype (default float32 on CPU, vLLM's auto on GPU)")
    p.add_argument("--max-model-len", type=int, help="context length (default on CPU: the model's, at most 4096)")
    p.add_argument("--kv-cache-gib", type=int, help="CPU KV cache in whole GiB (VLLM_CPU_KVCACHE_SPACE; default 1)")
    p.add_argument("--served-model-name", help="model name clients send (default the output folder's name)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for /health (default 900)")
    p.set_defaults(func=_serve, vllm_args=[])
    p.epilog = "Arguments after `--` go to `vllm serve` unchanged, e.g. `mgtrainer serve out -- --max-num-seqs 8`."
    sub._parser_class = default_class

    q = sub.add_parser("predict", help="batch inference over a CSV/JSONL file (vLLM offline engine or transformers)",
                       description="Read --input rows, write the same rows plus prediction columns to --output.")
    q.add_argument("output_dir", help="a training output folder or its final/")
    q.add_argument("--input", required=True, help="a .csv or .jsonl file")
    q.add_argument("--output", required=True, help="where to write rows + predictions (.csv or .jsonl)")
    q.add_argument("--engine", choices=["vllm", "hf"], default="vllm", help="vllm (default) or hf (transformers)")
    q.add_argument("--max-new-tokens", type=int, default=128, help="sft/pt: tokens to generate (greedy)")
    q.add_argument("--batch-size", type=int, default=16, help="hf engine batch size")
    q.set_defaults(func=_predict)

    c = sub.add_parser("chat", help="talk to a trained chat model in the terminal (streamed; /reset, /system, /exit)",
                       description="Multi-turn chat with OUTPUT_DIR on transformers, or with a running "
                       "`mgtrainer serve` (--url; the key from $MGT_API_KEY).")
    c.add_argument("output_dir", help="a training output folder or its final/")
    c.add_argument("--url", help="a running server's base URL, e.g. http://127.0.0.1:8000")
    c.add_argument("--model", help="with --url: the served model name (default the server's first)")
    c.add_argument("--max-new-tokens", type=int, default=256)
    c.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    c.set_defaults(func=_chat)
