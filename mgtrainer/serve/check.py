"""`mgtrainer serve OUTPUT_DIR --check`: the served outputs equal the training-side forward.

The same inputs go to the running vLLM server (over HTTP, the way clients call it) and to plain
transformers (mgtrainer.serve.engines.HFEngine). Pass criteria: embeddings cosine >= 0.9999;
classify probabilities and rm / rerank scores within 1e-4; greedy generation identical for 32 tokens.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from mgtrainer import tasks
from mgtrainer.errors import MgtError
from mgtrainer.serve import predict
from mgtrainer.serve.rows import Row
from mgtrainer.tasks.contract import Verdict as Result
from mgtrainer.driver.serving import PARITY_TOKENS as MAX_NEW_TOKENS


def post(url: str, body: dict, api_key: str | None, timeout: float = 300.0) -> dict:
    """POST JSON, return the JSON answer; an HTTP error becomes MgtError with the server's message."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {api_key}"} if api_key else {})
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as err:
        raise MgtError(f"{url}:1: HTTP {err.code} ({err.read()[:300].decode(errors='replace')}); expected 200") from None


def probe_rows(task, manifest, rows: list[dict] | None = None) -> list[Row]:
    """The task's probe rows (or the given ones), each named `<probe TASK>:N` for error messages."""
    out = []
    for i, row in enumerate(rows or task.probe(manifest), start=1):
        r = Row(row)
        r.where = f"<probe {manifest.task}>:{i}"
        out.append(r)
    return out


def check(path, url: str, name: str, api_key: str | None, rows: list[dict] | None = None, reference=None) -> Result:
    """Compare the server at url with the transformers forward of the model at path on the probe rows."""
    from mgtrainer import manifest as mf
    from mgtrainer.serve import engines

    manifest = mf.read(path)
    task = tasks.get(manifest.task)
    ref_engine = reference or engines.HFEngine(path, batch_size=1, progress=False)
    probe = probe_rows(task, manifest, rows)
    requests = predict.requests(task, manifest, ref_engine.tokenizer, probe)
    ref = task.call(ref_engine, requests, MAX_NEW_TOKENS)
    endpoint, got = task.served(_client(url, name, api_key), probe, requests)
    if len(ref) != len(got):
        return Result(endpoint, "rows", len(got), len(ref), False)
    return task.compare(endpoint, ref, got, _eos_ids(ref_engine))


def _client(url: str, name: str, api_key: str | None):
    """post(endpoint, body) for the tasks: the server's URL, the served model's name and the key added."""
    def post_to(endpoint: str, body: dict) -> dict:
        return post(url + endpoint, {"model": name, **body}, api_key)

    return post_to


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
