"""Fallback chat templates for tokenizers without one (model.template names one of these)."""

from __future__ import annotations

from mgtrainer.driver.tiny import CHAT_TEMPLATE as CHATML
from mgtrainer.errors import MgtError

LLAMA3 = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if message['role'] == 'assistant' %}{% generation %}{{- message['content'] | trim }}"
    "{%- for call in (message['tool_calls'] or []) %}{{- (call['function'] | tojson) }}{%- endfor %}"
    "{{- '<|eot_id|>' }}{% endgeneration %}"
    "{%- else %}{{- message['content'] | trim + '<|eot_id|>' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

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

TEMPLATES = {"chatml": CHATML, "qwen": CHATML, "llama3": LLAMA3, "plain": PLAIN}


def apply_template(tok, name: str | None) -> str:
    """Set tok.chat_template; returns what the manifest records ("model" or the fallback's name)."""
    if name is None:
        if tok.chat_template:
            return "model"
        name = "chatml" if "<|im_start|>" in tok.get_vocab() else "plain"
    if name not in TEMPLATES:
        raise MgtError(f"unknown chat template '{name}' (model.template); expected one of {', '.join(TEMPLATES)}")
    tok.chat_template = TEMPLATES[name]
    return name


def template_name(tok, name: str | None) -> str:
    """The manifest's template: the configured fallback's name, else "model" (the tokenizer's own)."""
    return name or "model"
