"""`mgtrainer serve OUTPUT_DIR --check`: the served outputs equal the training-side forward.

The same inputs go to the running vLLM server (over HTTP, the way clients call it) and to plain
transformers (mgtrainer.serve.engines.HFEngine). Pass criteria: embeddings cosine >= 0.9999;
classify probabilities and rm / rerank scores within 1e-4; greedy generation identical for 32 tokens.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from dataclasses import dataclass

from mgtrainer.errors import MgtError
from mgtrainer.serve import predict as P
from mgtrainer.serve import rows as R

MAX_NEW_TOKENS = 32
COSINE_MIN = 0.9999
ABS_TOL = 1e-4

PROBES = {
    "sft": [{"messages": [{"role": "user", "content": "What is the capital of France?"}]},
            {"prompt": "Give three tips for staying healthy."},
            {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                          {"role": "user", "content": "Translate the sentence into French."}]}],
    "pt": [{"text": "The quick brown fox"}, {"text": "Machine learning models learn"}, {"text": "def add(a, b):"}],
    "classify": [{"text": "Play the latest album on the kitchen speaker."}, {"text": "Will it rain in Boston tomorrow?"},
                 {"text": "Book a table for two tonight."}, {"text": "Rate this book five stars."}],
    "rm": [{"prompt": "What is 48 + 24?", "response": "48 + 24 = 72."},
           {"prompt": "What is 48 + 24?", "response": "It is 100."},
           {"messages": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}]}],
    "embed": [{"query": "capital of France"}, {"passage": "Paris is the capital of France."},
              {"text": "A journey of a thousand miles begins with a single step."}],
    "rerank": [{"query": "capital of France", "passage": "Paris is the capital of France."},
               {"query": "capital of France", "passage": "The quick brown fox jumps over the lazy dog."},
               {"query": "healthy tips", "passage": "Eat a balanced diet and get enough sleep."}],
}


@dataclass
class Result:
    endpoint: str
    metric: str
    value: float
    limit: float
    ok: bool


def post(url: str, body: dict, api_key: str | None, timeout: float = 300.0) -> dict:
    """POST JSON, return the JSON answer; an HTTP error becomes MgtError with the server's message."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {api_key}"} if api_key else {})
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as err:
        raise MgtError(f"{url}:1: HTTP {err.code} ({err.read()[:300].decode(errors='replace')}); expected 200") from None


def probe_rows(task: str, rows: list[dict] | None = None) -> list[R.Row]:
    out = []
    for i, row in enumerate(rows or PROBES[task], start=1):
        r = R.Row(row)
        r.where = f"<probe {task}>:{i}"
        out.append(r)
    return out


def served(task: str, url: str, name: str, api_key: str | None, rows: list[R.Row], inputs) -> tuple[str, list]:
    """(endpoint, outputs) from the server, in the shape the engines return."""
    if task == "sft":
        outs = [post(f"{url}/v1/chat/completions", {"model": name, "messages": R.chat_prompt(r), "temperature": 0,
                                                    "max_tokens": MAX_NEW_TOKENS, "return_token_ids": True},
                     api_key)["choices"][0]["token_ids"] for r in rows]
        return "/v1/chat/completions", outs
    if task == "pt":
        body = {"model": name, "prompt": inputs, "temperature": 0, "max_tokens": MAX_NEW_TOKENS,
                "return_token_ids": True}
        choices = sorted(post(f"{url}/v1/completions", body, api_key)["choices"], key=lambda c: c["index"])
        return "/v1/completions", [c["token_ids"] for c in choices]
    if task in ("classify", "rm"):
        data = post(f"{url}/classify", {"model": name, "input": inputs}, api_key)["data"]
        probs = [d["probs"] for d in sorted(data, key=lambda d: d["index"])]
        return "/classify", probs if task == "classify" else [p[0] for p in probs]
    if task == "embed":
        data = post(f"{url}/v1/embeddings", {"model": name, "input": inputs}, api_key)["data"]
        return "/v1/embeddings", [d["embedding"] for d in sorted(data, key=lambda d: d["index"])]
    queries, passages = inputs
    data = post(f"{url}/score", {"model": name, "queries": queries, "documents": passages}, api_key)["data"]
    return "/score", [d["score"] for d in sorted(data, key=lambda d: d["index"])]


def compare(task: str, endpoint: str, ref: list, got: list, eos: set[int]) -> Result:
    if len(ref) != len(got):
        return Result(endpoint, "rows", len(got), len(ref), False)
    if task in ("sft", "pt"):
        same = sum(_trim(a, eos) == _trim(b, eos) for a, b in zip(ref, got))
        return Result(endpoint, f"identical greedy generations ({MAX_NEW_TOKENS} tokens)", same, len(ref),
                      same == len(ref))
    if task == "embed":
        worst = min(_cosine(a, b) for a, b in zip(ref, got))
        return Result(endpoint, "min cosine", worst, COSINE_MIN, worst >= COSINE_MIN)
    flat = [(x, y) for a, b in zip(ref, got) for x, y in zip(_list(a), _list(b))]
    worst = max(abs(x - y) for x, y in flat)
    what = "max |prob diff|" if task == "classify" else "max |score diff|"
    return Result(endpoint, what, worst, ABS_TOL, worst <= ABS_TOL)


def _trim(ids: list[int], eos: set[int]) -> list[int]:
    ids = list(ids)[:MAX_NEW_TOKENS]
    return ids[:-1] if ids and ids[-1] in eos else ids


def _list(x) -> list[float]:
    return [float(v) for v in x] if isinstance(x, (list, tuple)) else [float(x)]


def _cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)) or 1.0)


def check(path, url: str, name: str, api_key: str | None, rows: list[dict] | None = None, reference=None) -> Result:
    """Compare the server at url with the transformers forward of the model at path on the probe rows."""
    from mgtrainer import manifest as mf
    from mgtrainer.serve import engines

    manifest = mf.read(path)
    ref_engine = reference or engines.HFEngine(path, batch_size=1, progress=False)
    probe = probe_rows(manifest.task, rows)
    inputs = P.task_inputs(manifest, ref_engine.tokenizer, probe)
    ref = P.run_engine(ref_engine, manifest, inputs, MAX_NEW_TOKENS)
    endpoint, got = served(manifest.task, url, name, api_key, probe, inputs)
    eos = _eos_ids(ref_engine)
    return compare(manifest.task, endpoint, ref, got, eos)


def _eos_ids(engine) -> set[int]:
    tok = engine.tokenizer
    ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
    try:
        gen = json.loads((engine.model_dir / "generation_config.json").read_text()).get("eos_token_id")
        ids |= set(gen if isinstance(gen, list) else [gen] if gen is not None else [])
    except (OSError, ValueError):
        pass
    return ids


def report(result: Result, task: str) -> str:
    verdict = "PASS" if result.ok else "FAIL"
    bound = ">=" if result.metric.startswith(("min", "identical")) else "<="
    return (f"parity {task}: {result.endpoint:22s} {result.metric} = {result.value:.6g} "
            f"(need {bound} {result.limit:g})  {verdict}")
