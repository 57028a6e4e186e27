"""Chat templates: model.template unset = the tokenizer's own (a fallback when it has none); set = one of
LLaMA-Factory's template names (driver/slot_templates.py, encoded as LLaMA-Factory encodes it) or mgtrainer's
own `plain`."""

from __future__ import annotations

from mgtrainer.driver.tiny import CHAT_TEMPLATE as CHATML
from mgtrainer.errors import MgtError

# A template for any tokenizer: plain role headers, the tokenizer's eos ends each assistant turn.
PLAIN = (
    "{%- if tools %}{{- 'Tools: ' + (tools | tojson) + '\\n\\n' }}{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}{{- 'Assistant: ' }}{% generation %}{{- message['content'] or '' }}"
    "{%- for call in (message['tool_calls'] or []) %}{{- ' ' + (call['function'] | tojson) }}{%- endfor %}"
    "{{- eos_token }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- message['role'] | capitalize }}{{- ': ' + message['content'] + '\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- 'Assistant: ' }}{%- endif %}"
)

FALLBACKS = {"chatml": CHATML, "plain": PLAIN}  # for a tokenizer without a template of its own
OWN = {"plain": PLAIN}  # mgtrainer's own names (LLaMA-Factory has no `plain`)


def known() -> list[str]:
    """Every name model.template takes."""
    from mgtrainer.driver import slot_templates

    return sorted({*OWN, *slot_templates.names()})


def nearest(name: str) -> str:
    """' (nearest: a, b, c)': the known names closest to an unknown one."""
    import difflib

    close = difflib.get_close_matches(name, known(), n=3, cutoff=0.5)
    return f" (nearest: {', '.join(close)})" if close else ""


def apply_template(tok, name: str | None) -> str:
    """Set tok's chat template; returns what the manifest records: "model" (the tokenizer's own), a
    fallback's name, or the configured name."""
    from mgtrainer.driver import slot_templates

    if name is None:
        if tok.chat_template:
            return "model"
        name = "chatml" if "<|im_start|>" in tok.get_vocab() else "plain"
        tok.chat_template = FALLBACKS[name]
        return name
    if name in OWN:
        tok.chat_template = OWN[name]
        return name
    if name not in slot_templates.names():
        raise MgtError(f"unknown chat template '{name}' (model.template){nearest(name)}; expected "
                       "a LLaMA-Factory template name or plain (references/templates.md), or unset")
    slot_templates.attach(tok, name)
    return name


def template_name(tok, name: str | None) -> str:
    """The manifest's template: the configured name, else "model" (the tokenizer's own)."""
    return name or "model"
