"""Acceptance measurements for issue 14 (prints a markdown table; asserts nothing).

digits: tiny llava (random CLIP tower, frozen) trained on scikit-learn's 8x8 digits as 28x28 PNGs; accuracy of
"which digit?" on a held-out split before and after training (chance: 0.10).
asr: tiny qwen2_audio trained on espeak-ng speech of single words; WER/CER on held-out renderings (another
speaking rate) before and after training.

    python bench/media_acceptance.py OUT_DIR [digits|asr ...]
"""

import json
import os
import sys
import time
from pathlib import Path

from mgtrainer.app.runs import load_data, load_run
from mgtrainer.data.media_samples import WORDS, digit_images, speech
from mgtrainer.driver.tiny_media import make_tiny_media_model
from mgtrainer.tasks import get


def _rows(pairs, prompt):
    return [{"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": a}], **m}
            for m, a in pairs]


def measure(name, base, train, held, steps, lr, batch):
    out = base.parent / f"run_{name}"
    cfg = load_run({"task": "msft", "model": {"name_or_path": str(base)},
                    "data": {"train": [str(train)], "eval": [str(held)]}, "lora": {"finetuning_type": "full"},
                    "eval": {"max_new_tokens": 4, "generation_samples": 0},
                    "train": {"output_dir": str(out), "max_steps": steps, "learning_rate": lr, "logging_steps": 10,
                              "per_device_train_batch_size": batch, "per_device_eval_batch_size": 8,
                              "save_steps": 10000, "report_to": "none", "preview_samples": 0,
                              "overwrite_output_dir": True}})
    task = get("msft")
    data = load_data(cfg, task)
    before = task.evaluate(cfg, data, base)
    t = time.time()
    task.run(cfg, data)
    after = task.evaluate(cfg, data, out / "final")
    return before, after, time.time() - t, len(data.train), len(data.eval)


def digits(root):
    d = root / "digits"
    tr, ho = digit_images(d, 300), digit_images(d, 100, start=300)
    for f, rows in (("train.json", tr), ("held.json", ho)):
        (d / f).write_text(json.dumps(_rows([({"images": [p]}, str(lab)) for p, lab in rows], "<image>Which digit?")))
    base = make_tiny_media_model(d / "base", "llava")
    return measure("digits", base, d / "train.json", d / "held.json", steps=150, lr=2e-3, batch=8)


def asr(root):
    d = root / "asr"
    tr, ho = [], []
    for w in WORDS:
        for speed in (130, 170, 210):
            speech(d / f"a/{w}_{speed}.wav", w, speed=speed)
            tr.append(({"audios": [f"a/{w}_{speed}.wav"]}, w))
        speech(d / f"a/{w}_150.wav", w, speed=150)
        ho.append(({"audios": [f"a/{w}_150.wav"]}, w))
    for f, rows in (("train.json", tr), ("held.json", ho)):
        (d / f).write_text(json.dumps(_rows(rows, "<audio>Transcribe the audio.")))
    base = make_tiny_media_model(d / "base", "qwen2_audio")
    return measure("asr", base, d / "train.json", d / "held.json", steps=int(os.environ.get("ASR_STEPS", 80)),
                   lr=2e-3, batch=4)


if __name__ == "__main__":
    root = Path(sys.argv[1])
    root.mkdir(parents=True, exist_ok=True)
    print("| measure | train rows | held-out rows | before | after | train seconds |\n|---|---|---|---|---|---|")
    for name in sys.argv[2:] or ["digits", "asr"]:
        b, a, secs, n, m = {"digits": digits, "asr": asr}[name](root)
        for k in ("eval_accuracy", "eval_wer", "eval_cer"):
            print(f"| {name} {k} | {n} | {m} | {b[k]:.3f} | {a[k]:.3f} | {secs:.0f} |", flush=True)
