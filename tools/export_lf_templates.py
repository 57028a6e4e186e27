"""Write mgtrainer/driver/lf_templates.json: LLaMA-Factory's text chat templates as data (their slots, default
system prompt, stop words, eos handling), which mgtrainer/driver/slot_templates.py encodes exactly as
LLaMA-Factory does. Run in the llamafactory env, which holds the LLaMA-Factory version the locks pin:

    mgt env run llamafactory -- python tools/export_lf_templates.py mgtrainer/driver/lf_templates.json

Exported: every template whose class is Template, Llama2Template or ReasoningTemplate with no multimodal
plugin (the text models). Left out, with the reason in the file's `skipped`: multimodal plugins and the
templates whose class encodes in its own way (Glm47ReasoningTemplate). LLaMA-Factory is Apache-2.0; the slot
definitions are its data (llamafactory/data/template.py).
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

from llamafactory.data import tool_utils
from llamafactory.data.mm_plugin import BasePlugin
from llamafactory.data.template import TEMPLATES, Llama2Template, ReasoningTemplate, Template

CLASSES = {Template: "plain", Llama2Template: "llama2", ReasoningTemplate: "reasoning"}
# the tool formats mgtrainer writes (driver/slot_templates.py: TOOL_FORMATS); their prompts are LF's text
TOOL_PROMPTS = {"default": "DEFAULT_TOOL_PROMPT", "qwen": "QWEN_TOOL_PROMPT", "glm4": "GLM4_TOOL_PROMPT",
                "llama3": "LLAMA3_TOOL_PROMPT", "ling": "LING_TOOL_PROMPT"}


def slots(formatter) -> list:
    """A formatter's slots as JSON: strings as they are, {"token": T} for a token by name, {"set": NAME} for
    LLaMA-Factory's {"bos_token"} / {"eos_token"} sets."""
    out = []
    for slot in formatter.slots:
        if isinstance(slot, str):
            out.append(slot)
        elif isinstance(slot, dict):
            out.append({"token": slot["token"]})
        elif isinstance(slot, set):
            (name,) = slot
            out.append({"set": name})
        else:
            raise TypeError(f"unexpected slot {slot!r}")
    return out


def export(t) -> dict:
    return {
        "class": CLASSES[type(t)],
        "prefix": slots(t.format_prefix), "system": slots(t.format_system), "user": slots(t.format_user),
        "assistant": slots(t.format_assistant), "function": slots(t.format_function),
        "observation": slots(t.format_observation),
        "tool_format": t.format_tools.tool_format, "function_tool_format": t.format_function.tool_format,
        "default_system": t.default_system, "stop_words": list(t.stop_words),
        "thought_words": list(t.thought_words), "tool_call_words": list(t.tool_call_words or ()),
        "efficient_eos": t.efficient_eos, "replace_eos": t.replace_eos,
    }


def main(out: str) -> int:
    kept, skipped = {}, {}
    for name, t in sorted(TEMPLATES.items()):
        if type(t.mm_plugin) is not BasePlugin:
            skipped[name] = f"multimodal ({type(t.mm_plugin).__name__})"
        elif type(t) not in CLASSES:
            skipped[name] = f"its own encoding ({type(t).__name__})"
        else:
            kept[name] = export(t)
    doc = {"llamafactory": version("llamafactory"), "source": "llamafactory/data/template.py (Apache-2.0)",
           "tool_prompts": {k: getattr(tool_utils, v) for k, v in TOOL_PROMPTS.items()},
           "templates": kept, "skipped": skipped}
    Path(out).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(kept)} templates -> {out} ({len(skipped)} skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
