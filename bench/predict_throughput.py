"""Benchmark: generated tokens/s of `mgtrainer predict` with vLLM's offline engine vs `--engine hf`.

Same model (a random Qwen2-style decoder built here, no hub), same prompts, same greedy settings, in
the same run; prints a table. Goal: vLLM >= 5x the transformers engine. Runs itself in the serve env
(built on demand) when this interpreter has no vLLM.

    python bench/predict_throughput.py [--prompts 128] [--max-new-tokens 64] [--hidden 512 --layers 4]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOPICS = ["the sea", "a city at night", "machine learning", "the history of Paris", "healthy food", "a small dog",
          "the moon", "a train journey", "music", "the weather tomorrow", "a good book", "learning to cook"]


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompts", type=int, default=128)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--hf-batch-size", type=int, default=16, help="--batch-size of the hf engine")
    return p.parse_args()


def in_serve_env() -> None:
    """Re-run this script with the serve env's interpreter when vLLM is not importable here."""
    if importlib.util.find_spec("vllm") is not None:
        return
    sys.path.insert(0, str(REPO))
    from mgtrainer import env

    python = env.python("serve")
    raise SystemExit(subprocess.call([str(python), *sys.argv]))


def make_model(out: Path, args) -> Path:
    from mgtrainer import manifest as mf
    from mgtrainer.driver.tiny import make_tiny_model

    make_tiny_model(out, arch="qwen2", hidden=args.hidden, layers=args.layers, heads=args.heads)
    mf.write(mf.Manifest(task="sft", base_model="bench-random-qwen2", head="causal_lm", template="model"), out)
    return out


def write_prompts(path: Path, n: int) -> Path:
    rows = [{"prompt": f"Write a short paragraph about {TOPICS[i % len(TOPICS)]} (#{i})."} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(model: Path, prompts: Path, out: Path, engine: str, args) -> dict:
    from mgtrainer.serve.predict import predict

    started = time.perf_counter()
    stats = predict(model, prompts, out, engine=engine, max_new_tokens=args.max_new_tokens,
                    batch_size=args.hf_batch_size, progress=False)
    return stats | {"wall": time.perf_counter() - started}


def table(results: dict[str, dict], args) -> str:
    base = results["hf"]["generated_tokens"] / results["hf"]["seconds"]
    lines = [f"predict throughput: {args.prompts} prompts, greedy {args.max_new_tokens} new tokens, random Qwen2 "
             f"(hidden {args.hidden}, {args.layers} layers), {os.cpu_count()} CPUs",
             "| engine | generated tokens | generate s | tokens/s | wall s (incl. load) | speed-up |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        tps = r["generated_tokens"] / r["seconds"]
        label = f"hf (batch {args.hf_batch_size})" if name == "hf" else "vllm (offline LLM)"
        lines.append(f"| {label} | {r['generated_tokens']} | {r['seconds']:.1f} | {tps:.0f} | {r['wall']:.1f} | "
                     f"{tps / base:.1f}x |")
    return "\n".join(lines)


def main() -> None:
    args = parse()
    in_serve_env()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="mgt-bench-") as tmp:
        tmp = Path(tmp)
        model = make_model(tmp / "model", args)
        prompts = write_prompts(tmp / "prompts.jsonl", args.prompts)
        results = {engine: run(model, prompts, tmp / f"out-{engine}.jsonl", engine, args) for engine in ("hf", "vllm")}
        same = [json.loads(a)["prediction"] == json.loads(b)["prediction"]
                for a, b in zip((tmp / "out-hf.jsonl").open(), (tmp / "out-vllm.jsonl").open())]
    print(table(results, args))
    print(f"identical greedy outputs: {sum(same)}/{len(same)} rows")


if __name__ == "__main__":
    main()
