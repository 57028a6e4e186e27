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


def apply_template(tok, name: str | None, **options) -> str:
    """Set tok's chat template; returns what the manifest records: "model" (the tokenizer's own), a
    fallback's name, or the configured name. `options`: LLaMA-Factory's template settings (model.default_system,
    tool_format, mask_history, enable_thinking); the tokenizer's own and mgtrainer's templates take
    default_system only."""
    from mgtrainer.driver import slot_templates

    if name is not None and name not in OWN:
        if name not in slot_templates.names():
            raise MgtError(f"unknown chat template '{name}' (model.template){nearest(name)}; expected "
                           "a LLaMA-Factory template name or plain (references/templates.md), or unset")
        slot_templates.attach(tok, name, **options)
        return name
    recorded = "model" if name is None and tok.chat_template else name
    if recorded is None:
        recorded = "chatml" if "<|im_start|>" in tok.get_vocab() else "plain"
    if recorded != "model":
        tok.chat_template = FALLBACKS[recorded]
    if options.get("default_system") is not None:  # the row's own system message wins
        tok.chat_template = with_system(tok.chat_template, options["default_system"])
    return recorded


def with_system(template: str, system: str) -> str:
    """A jinja chat template that puts `system` first when a conversation has no system message."""
    quoted = system.replace("\\", "\\\\").replace("'", "\\'")
    return ("{%- if not messages or messages[0]['role'] != 'system' %}{%- set messages = "
            f"[{{'role': 'system', 'content': '{quoted}'}}] + messages %}}{{%- endif %}}" + template)


def template_name(tok, name: str | None) -> str:
    """The manifest's template: the configured name, else "model" (the tokenizer's own)."""
    return name or "model"
