"""Write a tiny random causal LM (Qwen2- or Llama-style) with a local tokenizer and chat template.

    python tools/make_tiny_model.py OUT [--arch qwen2|llama]      (same as `mgtrainer model tiny OUT`)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mgtrainer.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["model", "tiny", *sys.argv[1:]]))
