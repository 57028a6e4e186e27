"""Query a model served by `mgtrainer serve` with the official openai client; write what it answered.

  python query.py BASE_URL KIND MODEL OUT.json [EVAL.jsonl]
    KIND chat:     chat.completions + completions (the OpenAI routes)
    KIND classify: POST /classify (vLLM's route, through the same client) on EVAL rows {text, label}: accuracy
    KIND embed:    embeddings.create on EVAL rows {query, pos}: top-1 retrieval accuracy among the passages
    KIND rerank:   POST /rerank on EVAL rows {query, pos, neg}: share of queries whose positive ranks first
The key comes from MGT_API_KEY (the server's key: `mgtrainer serve` reads the same variable).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from openai import OpenAI


def rows(path: str, limit: int = 24) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()][:limit]


def post(client: OpenAI, base: str, route: str, body: dict) -> dict:
    """A vLLM route outside /v1 through the openai client (absolute URL; the client adds the key)."""
    return client.post(base + route, body=body, cast_to=object)  # object: the JSON as parsed


def _normal(text: str) -> str:  # as mgtrainer.rewards:exact_text: case, runs of whitespace, a final period
    return " ".join(text.lower().split()).rstrip(".")


def chat(client: OpenAI, base: str, model: str, eval_path) -> dict:
    """Three fixed questions, or EVAL's chat rows (the last turn the reference): greedy answers, exact match."""
    data = rows(eval_path) if eval_path else []
    questions = [r["messages"][:-1] for r in data] or \
        [[{"role": "user", "content": q}] for q in ("What is 12 + 7?", "What is the weather in Paris?", "Hello!")]
    answers = []
    for q in questions:
        r = client.chat.completions.create(model=model, messages=q, max_tokens=16, temperature=0)
        answers.append(r.choices[0].message.content)
        print(f"chat  {q[-1]['content']!r} -> {answers[-1]!r}")
    comp = client.completions.create(model=model, prompt="The capital of France is", max_tokens=8, temperature=0)
    print(f"completion -> {comp.choices[0].text!r}")
    out = {"answers": answers, "answered": sum(a is not None for a in answers), "completion": comp.choices[0].text}
    if data:
        hits = [_normal(a or "") == _normal(r["messages"][-1]["content"]) for a, r in zip(answers, data)]
        out["exact_match"] = sum(hits) / len(hits)
        print(f"chat: exact match {out['exact_match']:.2f} on {len(hits)} held-out prompts")
    return out


def classify(client: OpenAI, base: str, model: str, eval_path: str) -> dict:
    data = rows(eval_path)
    out = post(client, base, "/classify", {"model": model, "input": [r["text"] for r in data]})
    got = [d["label"] for d in out["data"]]
    for r, g in list(zip(data, got))[:5]:
        print(f"classify {r['text']!r} -> {g} (gold {r['label']})")
    acc = sum(g == r["label"] for r, g in zip(data, got)) / len(data)
    return {"predictions": got, "accuracy": acc, "answered": len(got)}


def embed(client: OpenAI, base: str, model: str, eval_path: str) -> dict:
    data = rows(eval_path)
    q = client.embeddings.create(model=model, input=[r["query"] for r in data]).data
    p = client.embeddings.create(model=model, input=[r["pos"] if isinstance(r["pos"], str) else r["pos"][0]
                                                     for r in data]).data
    qv, pv = [e.embedding for e in q], [e.embedding for e in p]
    hits = 0
    for i, v in enumerate(qv):
        scores = [sum(a * b for a, b in zip(v, w)) for w in pv]
        hits += scores.index(max(scores)) == i
    print(f"embed: {len(qv)} queries, dim {len(qv[0])}, top-1 {hits}/{len(qv)}")
    return {"answered": len(qv), "dim": len(qv[0]), "top1_accuracy": hits / len(qv)}


def rerank(client: OpenAI, base: str, model: str, eval_path: str) -> dict:
    data = rows(eval_path, 12)
    first = 0
    for r in data:
        pos = r["pos"] if isinstance(r["pos"], str) else r["pos"][0]
        docs = [pos, *r["neg"][:4]]
        out = post(client, base, "/rerank", {"model": model, "query": r["query"], "documents": docs})
        first += out["results"][0]["index"] == 0
    print(f"rerank: positive first for {first}/{len(data)} queries")
    return {"answered": len(data), "top1_accuracy": first / len(data)}


def main() -> int:
    base, kind, model, out = sys.argv[1:5]
    eval_path = sys.argv[5] if len(sys.argv) > 5 else None
    client = OpenAI(base_url=base + "/v1", api_key=os.environ["MGT_API_KEY"])
    served = [m.id for m in client.models.list().data]
    assert model in served, f"{model!r} not served; the server has {served}"
    result = {"kind": kind, "model": model, **globals()[kind](client, base, model, eval_path)}
    Path(out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"answers: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
