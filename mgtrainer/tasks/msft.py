"""msft: supervised fine-tuning of a vision- or audio-language model on chat records with images / audio
(`<image>` / `<audio>` placeholders + media files). Loss on the last assistant turn only (media tokens
are in the prompt, never trained); LoRA on the language model by default; the vision/audio tower frozen.
Covers image question answering, audio classification through generation (the audio toolkit's CSV:
`prediction` is the answer) and ASR (wav.scp + text: the transcript is the answer); eval reports
accuracy (exact match), WER and CER of greedy generations (references/media.md)."""

from typing import Literal

from mgtrainer.tasks.contract import Serve, TaskConfig
from mgtrainer.driver.serving import PARITY_TOKENS, same_generations as compare  # noqa: F401

HEAD = "media_lm"
RECORD = "chat"
SERVE = Serve(runner="generate", endpoints=("/v1/chat/completions",))
STREAMING = False


class Config(TaskConfig):
    name: Literal["msft"] = "msft"


def run(cfg, data) -> dict:
    """Train on media chat records; eval loss, accuracy, WER, CER; final/ with processor + manifest."""
    from mgtrainer.driver.media_fit import fit_media

    return fit_media(cfg, HEAD, data)


def evaluate(cfg, data, model_dir) -> dict:
    """Accuracy / WER / CER of model_dir's greedy answers on the eval split (the train rows without one)."""
    from mgtrainer.driver import media
    from mgtrainer.driver.media_fit import generation_metrics

    model, proc = media.load(str(model_dir))
    return generation_metrics(model, proc, data.eval or data.train, cfg.eval.max_new_tokens)[0]


def serve_settings(manifest) -> dict:
    return {}


def request(row, manifest, tok):
    """predict: the row as a media chat record (serve/media_rows.py reads the toolkit CSV, wav.scp lines
    and messages with content parts into one for models with a modality); the engine takes it as it is."""
    return row


def call(engine, requests: list, max_new_tokens: int) -> list:
    """Greedy answer ids with the transformers model of engine.model_dir (vLLM: references/media.md)."""
    from mgtrainer.driver import media

    model, proc = media.load(str(engine.model_dir))
    model.eval()
    return [media.generate_ids(model, proc, media.chat(r.messages), r.media, max_new_tokens) for r in requests]


def response(output, manifest, tok) -> dict:
    return {"prediction": tok.decode(output, skip_special_tokens=True).strip()}


def probe(manifest) -> list[dict]:
    """`serve --check`: one chat row per modality the model takes, its media made in memory and sent inline
    (mgtrainer/media_io.py probe_parts), so the check needs no data files."""
    from mgtrainer.media_io import probe_parts

    return [{"messages": [{"role": "user", "content": [part, {"type": "text", "text": "What is it?"}]}]}
            for part in probe_parts(manifest.modality)]


def served(post, rows: list, requests: list) -> tuple[str, list]:
    """Greedy /v1/chat/completions per probe row with OpenAI content parts; the answers' token ids."""
    from mgtrainer.media_io import content_parts

    out = []
    for rec in requests:
        queue = list(rec.media)
        msgs = [{"role": m.role, "content": content_parts(m.content, queue)} for m in rec.messages
                if m.role != "assistant"]
        body = {"messages": msgs, "temperature": 0, "max_tokens": PARITY_TOKENS, "return_token_ids": True}
        out.append(post("/v1/chat/completions", body)["choices"][0]["token_ids"])
    return "/v1/chat/completions", out
