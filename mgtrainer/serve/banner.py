"""What `mgtrainer serve` prints once the server answers /health: endpoints, key, log, a curl line."""

from __future__ import annotations

import json

from mgtrainer import manifest as mf
from mgtrainer import tasks
from mgtrainer.serve.vllm import Server, adapter_base, adapter_only, base_folder

EXAMPLE_BODIES = {
    "/v1/chat/completions": lambda n: {"model": n, "messages": [{"role": "user", "content": "Hello!"}],
                                       "max_tokens": 32},
    "/v1/completions": lambda n: {"model": n, "prompt": "Hello", "max_tokens": 32},
    "/classify": lambda n: {"model": n, "input": ["first text", "second text"]},
    "/pooling": lambda n: {"model": n, "input": "a text"},
    "/v1/embeddings": lambda n: {"model": n, "input": ["a query", "a passage"]},
    "/rerank": lambda n: {"model": n, "query": "a query", "documents": ["passage one", "passage two"]},
    "/v1/rerank": lambda n: {"model": n, "query": "a query", "documents": ["passage one", "passage two"]},
    "/score": lambda n: {"model": n, "queries": "a query", "documents": ["passage one", "passage two"]},
}


def curl_line(url: str, endpoint: str, name: str, api_key: str | None) -> str:
    """One ready-to-paste curl command for an endpoint."""
    auth = f" -H 'Authorization: Bearer {api_key}'" if api_key else ""
    body = json.dumps(EXAMPLE_BODIES[endpoint](name))
    return f"curl -s {url}{endpoint}{auth} -H 'Content-Type: application/json' -d '{body}'"


def banner(server: Server, key_source: str) -> str:
    """What `mgtrainer serve` prints once the server answers /health."""
    m, opts = server.manifest, server.opts
    endpoints = tasks.get(m.task).SERVE.endpoints
    where = base_folder(server.path) if opts.adapters else mf.model_dir(server.path)
    lines = [f"mgtrainer: serving {m.task} model '{server.name}' ({where}) at {server.url}",
             *(f"  POST {server.url}{e}" for e in endpoints),
             *(f"  LoRA adapter '{name}' ({out}): requests with model '{name}'" for name, out in opts.adapters),
             *([f"  LoRA adapter (lora.merge: false) on {adapter_base(where)}; model '{server.name}-base' answers "
                "without it"] if not opts.adapters and adapter_only(where) else []),
             f"  api key ({key_source}): {opts.api_key}" if opts.api_key else "  api key: none (open server)",
             f"  vLLM pid {server.proc.pid}, log: {server.log_path}",
             "try:", "  " + curl_line(server.url, endpoints[0], opts.adapters[0][0] if opts.adapters else server.name,
                                      opts.api_key),
             "Ctrl-C stops the server."]
    return "\n".join(lines)
