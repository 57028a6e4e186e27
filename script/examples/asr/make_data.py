"""outputs/media_asr/{train,test}/wav.scp + text: single words spoken by espeak-ng (16 kHz), train at three
speaking rates, test at a fourth."""
import sys
from pathlib import Path

from mgtrainer.data.media_samples import WORDS, speech

out = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/media_asr")
for split, speeds in (("train", (130, 170, 210)), ("test", (150,))):
    scp, text = [], []
    for w in WORDS:
        for s in speeds:
            utt = f"{w}_{s}"
            speech(out / split / f"{utt}.wav", w, speed=s)
            scp.append(f"{utt} {utt}.wav")
            text.append(f"{utt} {w}")
    (out / split / "wav.scp").write_text("\n".join(scp) + "\n")
    (out / split / "text").write_text("\n".join(text) + "\n")
