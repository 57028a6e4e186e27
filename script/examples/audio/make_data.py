"""outputs/media_sounds/sounds.csv in the audio toolkit's format (audio, system_prompt, user_prompt, prediction):
tones at 440 Hz ("low") and 1760 Hz ("high") with noise, 16 kHz wav."""
import sys
from pathlib import Path

from mgtrainer.data.media_samples import tone

out = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/media_sounds")
lines = ["audio,system_prompt,user_prompt,prediction"]
for i in range(40):
    f, label = (440, "low") if i % 2 == 0 else (1760, "high")
    tone(out / f"a/tone_{i:03d}.wav", f, 0.5, seed=i)
    lines.append(f"a/tone_{i:03d}.wav,null,Is this sound low or high?,{label}")
(out / "sounds.csv").write_text("\n".join(lines) + "\n")
