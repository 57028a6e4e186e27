"""`mgtrainer chat OUT [--url URL]`: talk to a trained chat model in the terminal, tokens printed as they come.

On transformers (the model in OUT, its own tokenizer and chat template: what training saw), or on a running
`mgtrainer serve` (--url, the official openai client, streamed). The history is kept across turns;
/reset forgets it, /system TEXT sets the system message (and forgets the history), /exit or Ctrl-D leaves.
Greedy by default (--temperature > 0 samples).
"""

from __future__ import annotations

import sys

HELP = "commands: /reset (forget the history), /system TEXT (set the system message), /exit"


def chat(out: str, url: str | None = None, max_new_tokens: int = 256, temperature: float = 0.0,
         model_name: str | None = None, stdin=sys.stdin, stdout=sys.stdout) -> int:
    reply = _remote(url, model_name, max_new_tokens, temperature) if url else \
        _local(out, max_new_tokens, temperature)
    system, history = None, []
    print(f"mgtrainer chat: {out if not url else url}; {HELP}", file=stdout, flush=True)
    while True:
        print(">>> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:  # Ctrl-D
            print(file=stdout)
            return 0
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            return 0
        if text == "/reset":
            history = []
            print("(history cleared)", file=stdout, flush=True)
            continue
        if text.startswith("/system"):
            system, history = text[len("/system"):].strip() or None, []
            print(f"(system: {system or 'none'}; history cleared)", file=stdout, flush=True)
            continue
        if text.startswith("/"):
            print(f"unknown command {text.split()[0]}; {HELP}", file=stdout, flush=True)
            continue
        history.append({"role": "user", "content": text})
        messages = ([{"role": "system", "content": system}] if system else []) + history
        answer = "".join(_echo(reply(messages), stdout))
        history.append({"role": "assistant", "content": answer})


def _echo(pieces, stdout):
    for piece in pieces:
        print(piece, end="", file=stdout, flush=True)
        yield piece
    print(file=stdout, flush=True)


def _local(out: str, max_new_tokens: int, temperature: float):
    import threading

    import torch
    from transformers import TextIteratorStreamer

    from mgtrainer.serve.engines import HFEngine

    engine = HFEngine(out, progress=False)  # final/, or its base with an unmerged adapter merged in
    model, tok = engine.model("causal_lm"), engine.tokenizer

    def reply(messages):
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(**ids, max_new_tokens=max_new_tokens, streamer=streamer, pad_token_id=tok.pad_token_id,
                      do_sample=temperature > 0, **({"temperature": temperature} if temperature > 0 else {}))
        worker = threading.Thread(target=lambda: torch.no_grad()(model.generate)(**kwargs), daemon=True)
        worker.start()
        yield from streamer
        worker.join()

    return reply


def _remote(url: str, model_name: str | None, max_new_tokens: int, temperature: float):
    import os

    from openai import OpenAI

    client = OpenAI(base_url=url.rstrip("/") + "/v1", api_key=os.environ.get("MGT_API_KEY", "none"))
    name = model_name or client.models.list().data[0].id

    def reply(messages):
        stream = client.chat.completions.create(model=name, messages=messages, max_tokens=max_new_tokens,
                                                temperature=temperature, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    return reply
