"""`mgtrainer serve` of media models through vLLM's OpenAI chat API: a request with an audio part
(qwen2_audio) answers through the official openai client, and the parity check (`serve --check`: the
task's probe, an inline audio part, greedy through the server vs transformers' generate) passes. The served folders
are tiny random models with an msft manifest (what `mgtrainer train` writes beside the weights)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.heavy, pytest.mark.serve]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))


def _final(tmp_path, arch, modality, processor):
    from mgtrainer import manifest as mf
    from mgtrainer.driver.tiny_media import make_tiny_media_model

    final = make_tiny_media_model(tmp_path / arch / "final", arch)
    mf.write(mf.Manifest(task="msft", base_model=str(final), head="media_lm", modality=[modality],
                         processor=processor, template="model", max_length=2048), final)
    return final.parent


def _ask(url, content):
    from openai import OpenAI
    from servehelp import API_KEY

    client = OpenAI(base_url=f"{url}/v1", api_key=API_KEY)
    model = client.models.list().data[0].id
    out = client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}],
                                         max_tokens=4, temperature=0)
    return out.choices[0]


# llava is not served: vLLM 0.32's llava module imports torchvision, absent on CPU (references/media.md has
# the exact error); image models predict with --engine hf. The image branch stays for a torchvision env.
@pytest.mark.parametrize("arch", ["qwen2_audio"])
def test_served_media_request_answers_through_openai_client(tmp_path, media_dir, serve_env, arch):
    import servehelp

    if arch == "llava":
        out = _final(tmp_path, arch, "image", "LlavaProcessor")
        b64 = base64.b64encode((media_dir / "img/digit_0001.png").read_bytes()).decode()
        part = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}}
    else:
        out = _final(tmp_path, arch, "audio", "Qwen2AudioProcessor")
        b64 = base64.b64encode((media_dir / "a/tone_0.wav").read_bytes()).decode()
        part = {"type": "input_audio", "input_audio": {"data": b64, "format": "wav"}}
    with servehelp.cli_server(out, "--max-model-len", "2048", "--max-num-seqs", "2") as info:
        assert info["proc"].poll() is None, info["banner"]
        choice = _ask(info["url"], [part, {"type": "text", "text": "What is it?"}])
        assert choice.finish_reason in ("length", "stop") and isinstance(choice.message.content, str)
        from mgtrainer.serve.check import check
        from openai import OpenAI
        from servehelp import API_KEY

        name = OpenAI(base_url=f"{info['url']}/v1", api_key=API_KEY).models.list().data[0].id
        result = check(out, info["url"], name, API_KEY)
        assert result.ok and result.value == 1, result  # one probe row, the same 32 greedy token ids
