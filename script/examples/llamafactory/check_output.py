"""Load a finished run's final/ as any transformers user would, print its manifest and one reply.

    python script/examples/llamafactory/check_output.py OUTPUT_DIR   (in an env with torch + transformers)
"""

import json
import sys
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

final = Path(sys.argv[1]) / "final"
manifest = json.loads((final / "mgtrainer.json").read_text())
print({k: manifest[k] for k in ("task", "backend", "head", "finetuning_type", "adapter_dir", "template")})
print("metrics:", {k: round(v, 4) for k, v in manifest["metrics"].items()})
tok = AutoTokenizer.from_pretrained(final)
model = AutoModelForCausalLM.from_pretrained(final)
prompt = tok.apply_chat_template([{"role": "user", "content": "What is 7 times 6?"}], add_generation_prompt=True,
                                 return_tensors="pt", return_dict=True)
out = model.generate(**prompt, max_new_tokens=16, do_sample=False)
print("reply:", repr(tok.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)))
