"""Media data made locally for tests and examples (no hub): scikit-learn's bundled 8x8 digits as PNGs,
tones as sound classes, speech synthesised with espeak-ng. Writers only; numpy/PIL/sklearn imported
inside the functions."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

RATE = 16000
WORDS = ["yes", "no", "up", "down", "left", "right", "stop", "go", "one", "two", "three", "four"]


def digit_images(out_dir: str | Path, n: int, start: int = 0, size: int = 28) -> list[tuple[str, int]]:
    """Write digits[start:start+n] as size x size PNGs; [(relative path, digit)]."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    out = Path(out_dir)
    (out / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(start, start + n):
        pix = (d.images[i] / 16.0 * 255).astype(np.uint8)
        name = f"img/digit_{i:04d}.png"
        Image.fromarray(pix).resize((size, size), Image.NEAREST).convert("RGB").save(out / name)
        rows.append((name, int(d.target[i])))
    return rows


def write_wav(path: str | Path, samples, rate: int = RATE) -> None:
    """Mono 16-bit PCM."""
    import numpy as np

    x = np.clip(np.asarray(samples, dtype=np.float32), -1, 1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((x * 32767).astype("<i2").tobytes())


def tone(path: str | Path, freq: float, seconds: float = 0.5, seed: int = 0, rate: int = RATE) -> None:
    """A sine at freq Hz with a little noise (a "sound class")."""
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).normal(0, 0.05, t.shape)
    write_wav(path, 0.5 * np.sin(2 * np.pi * freq * t) + noise, rate)


def speech(path: str | Path, text: str, voice: str = "en", speed: int = 160) -> None:
    """espeak-ng speech resampled to 16 kHz mono PCM (espeak-ng writes 22050 Hz)."""
    import numpy as np

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed; expected `apt-get install -y espeak-ng`")
    raw = subprocess.run([exe, "-v", voice, "-s", str(speed), "--stdout", text], check=True,
                         capture_output=True).stdout
    import io

    with wave.open(io.BytesIO(raw)) as w:
        rate, x = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2") / 32768.0
    n = int(len(x) * RATE / rate)
    write_wav(path, np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x), RATE)
