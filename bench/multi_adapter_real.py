"""Several adapters on one vLLM server, on the real SmolLM2-135M-Instruct: each answers its own way.

    python bench/multi_adapter_real.py [SFT_RUN] [PT_RUN]      (defaults: outputs/real_sft_lora, outputs/real_pt_lora)

Needs the two real recipes' full runs (`mgtrainer recipes run real-sft-lora`, `... real-pt-lora`). Starts one
server (`serve smollm2-135m-instruct --adapter dates=SFT_RUN --adapter prose=PT_RUN`), asks the held-out date
questions through the openai client to the base and to the dates adapter (chat) and the held-out prose
openings to the base and the prose adapter (completions), and prints exact match / the continuations, then
`serve --check --url` per adapter. Run from the repository root with the dev or serve env's python.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from openai import OpenAI

from mgtrainer.serve.vllm import ServeOptions, Server

REPO = Path(__file__).resolve().parents[1]
DATES = REPO / "script" / "examples" / "real" / "data" / "dates_heldout.jsonl"


def main() -> int:
    sft = sys.argv[1] if len(sys.argv) > 1 else "outputs/real_sft_lora"
    pt = sys.argv[2] if len(sys.argv) > 2 else "outputs/real_pt_lora"
    rows = [json.loads(line) for line in DATES.read_text().splitlines()][:20]
    adapters = [("dates", sft), ("prose", pt)]
    with Server("smollm2-135m-instruct", ServeOptions(port=0, api_key="k", adapters=adapters)).start() as server:
        client = OpenAI(base_url=server.url + "/v1", api_key="k")
        print("models:", sorted(m.id for m in client.models.list().data))
        for model in (server.name, "dates", "prose"):
            right = 0
            for row in rows:
                question, reference = row["messages"][0]["content"], row["messages"][1]["content"]
                got = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}],
                                                     max_tokens=24, temperature=0).choices[0].message.content
                right += got.strip() == reference.strip()
            print(f"| {model} | chat, {len(rows)} held-out date questions | exact match {right / len(rows):.2f} |")
        example = rows[0]["messages"][0]["content"]
        for model in (server.name, "dates", "prose"):
            got = client.chat.completions.create(model=model, messages=[{"role": "user", "content": example}],
                                                 max_tokens=24, temperature=0).choices[0].message.content
            print(f"{model}: {example!r} -> {got!r}")
        check = subprocess.run([sys.executable, "-m", "mgtrainer", "serve", "smollm2-135m-instruct", "--adapter",
                                f"dates={sft}", "--adapter", f"prose={pt}", "--check", "--url", server.url,
                                "--api-key", "k"], capture_output=True, text=True)
        print(check.stdout.strip())
        return check.returncode


if __name__ == "__main__":
    raise SystemExit(main())
