"""outputs/media_digits/{train,held}.json: scikit-learn's bundled 8x8 digits as 28x28 PNGs, LLaMA-Factory
rows (messages + images column); held.csv: the same held-out rows as OpenAI content parts for predict."""
import json
import sys
from pathlib import Path

from mgtrainer.data.media_samples import digit_images

out = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/media_digits")
for name, start, n in (("train", 0, 300), ("held", 300, 100)):
    rows = [{"messages": [{"role": "user", "content": "<image>Which digit?"}, {"role": "assistant", "content": str(d)}],
             "images": [p]} for p, d in digit_images(out, n, start)]
    (out / f"{name}.json").write_text(json.dumps(rows))
with (out / "held.jsonl").open("w") as f:
    for p, d in digit_images(out, 20, 300):
        parts = [{"type": "image_url", "image_url": {"url": p}}, {"type": "text", "text": "Which digit?"}]
        # the answer as a last assistant turn: predict drops it and sends the prompt (and it reads as training data)
        msgs = [{"role": "user", "content": parts}, {"role": "assistant", "content": str(d)}]
        f.write(json.dumps({"messages": msgs, "answer": d}) + "\n")
