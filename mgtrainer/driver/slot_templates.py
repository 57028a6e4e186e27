"""LLaMA-Factory's chat templates by name (model.template: qwen, llama3, mistral, gemma, glm4, ...), encoded
exactly as LLaMA-Factory encodes them: the same ids, the same loss mask, the same truncation.

The templates are LF's own data (lf_templates.json, written from LF's template.py by
tools/export_lf_templates.py in the llamafactory env): per role a list of slots (text with {{content}}, a token
by name, bos/eos), a default system prompt, stop words, eos handling. A conversation is encoded as LF does:
each slot's text tokenised on its own (no special tokens added), one (prompt ids, response ids) pair per
user/assistant turn; the response ids are trained, the prompt ids not (train_on_prompt trains both). The
tokenizer is fixed as LF fixes it (eos replaced by the first stop word where the template says so, the stop
words added as special tokens), and its chat_template becomes LF's jinja rendering of the same slots, so
serving renders what training saw. tests/backends/test_lf_templates.py checks ids and labels against
LLaMA-Factory itself for every template here.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from mgtrainer.errors import MgtError
from mgtrainer.toolcalls import calls_to_json

IGNORE = -100
ATTR = "mgt_lf_template"  # the tokenizer attribute naming its LF template (travels with it when pickled)


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(Path(__file__).with_name("lf_templates.json").read_text())


def names() -> list[str]:
    return sorted(_data()["templates"])


def spec(name: str) -> dict:
    return _data()["templates"][name]


# ---- the tokenizer: LF's fix_special_tokens, then LF's jinja as its chat template ----

def with_options(name: str, default_system: str | None = None, tool_format: str | None = None,
                 mask_history: bool = False, enable_thinking: bool = True) -> dict:
    """The template with LF's data arguments of the same names applied (get_template_and_fix_tokenizer)."""
    t = dict(spec(name), name=name, mask_history=mask_history, enable_thinking=enable_thinking)
    if tool_format is not None:
        t["function"] = ["{{content}}"] if t["efficient_eos"] else ["{{content}}", {"set": "eos_token"}]
        t["tool_format"] = t["function_tool_format"] = tool_format
    if default_system is not None:
        t["default_system"] = default_system
    return t


def attach(tok, name: str, **options) -> int:
    """Fix tok as LLaMA-Factory does for template `name` (with LF's data arguments `options`: default_system,
    tool_format, mask_history, enable_thinking) and give it that template; returns the tokens added (the
    model's embeddings must then grow: driver/model.py resizes them)."""
    t, before = with_options(name, **options), len(tok)
    stop_words = list(t["stop_words"])
    if t["replace_eos"]:
        if tok.eos_token != stop_words[0]:
            tok.add_special_tokens({"eos_token": stop_words[0]})
        stop_words = stop_words[1:]
    if tok.eos_token_id is None:
        tok.add_special_tokens({"eos_token": "<|endoftext|>"})
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if stop_words:
        try:
            tok.add_special_tokens({"additional_special_tokens": stop_words}, replace_additional_special_tokens=False)
        except TypeError:
            tok.add_special_tokens({"additional_special_tokens": stop_words})
    tok.chat_template = jinja(tok, t)
    setattr(tok, ATTR, t)
    return len(tok) - before


def _jinja_slots(slots: list, tok, placeholder: str = "content") -> str:
    def esc(text: str) -> str:
        return text.replace("'", r"\'")

    items = []
    for slot in slots:
        if isinstance(slot, str):
            pieces = slot.split("{{content}}")
            if pieces[0]:
                items.append("'" + esc(pieces[0]) + "'")
            if len(pieces) > 1:
                items.append(placeholder)
                if pieces[1]:
                    items.append("'" + esc(pieces[1]) + "'")
        elif "set" in slot:  # the token itself, not {{ eos_token }}, which may be replaced
            token = {"bos_token": tok.bos_token, "eos_token": tok.eos_token}.get(slot["set"])
            if token is not None:
                items.append("'" + token + "'")
        else:  # a token by name (chatglm's [gMASK]): its text, which the tokenizer reads back as that token
            items.append("'" + esc(slot["token"]) + "'")  # (LF's own jinja refuses these templates)
    return " + ".join(items)


def jinja(tok, t: dict) -> str:
    """LF's _get_jinja_template: the system slot (or, for llama2-style templates, the system text before the
    first user message), then user and assistant slots. The user slot ends with the assistant's header, so
    the rendered prompt is ready for generation."""
    prefix, user = _jinja_slots(t["prefix"], tok), _jinja_slots(t["user"], tok)
    system, assistant = _jinja_slots(t["system"], tok, "system_message"), _jinja_slots(t["assistant"], tok)
    out = "{{ " + prefix + " }}" if prefix else ""
    if t["default_system"]:
        out += "{% set system_message = '" + t["default_system"].replace("'", r"\'") + "' %}"
    out += ("{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
            "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% endif %}")
    if t["class"] == "llama2":
        return out + ("{% for message in loop_messages %}"
                      "{% if loop.index0 == 0 and system_message is defined %}"
                      "{% set content = " + system + " + message['content'] %}"
                      "{% else %}{% set content = message['content'] %}{% endif %}"
                      "{% if message['role'] == 'user' %}{{ " + user + " }}"
                      "{% elif message['role'] == 'assistant' %}{{ " + assistant + " }}{% endif %}{% endfor %}")
    return out + ("{% if system_message is defined %}{{ " + system + " }}{% endif %}"
                  "{% for message in loop_messages %}{% set content = message['content'] %}"
                  "{% if message['role'] == 'user' %}{{ " + user + " }}"
                  "{% elif message['role'] == 'assistant' %}{{ " + assistant + " }}{% endif %}{% endfor %}")


# ---- tools: LF's tool prompt (system) and function-call text (assistant) per tool format ----

def _wrapped(tool: dict) -> dict:
    return tool if tool.get("type") == "function" else {"type": "function", "function": tool}


def _bare(tool: dict) -> dict:
    return tool.get("function", "") if tool.get("type") == "function" else tool


def _default_tools(tools: list[dict]) -> str:
    text, tool_names = "", []
    for tool in map(_bare, tools):
        params = ""
        for name, p in tool["parameters"]["properties"].items():
            required = ", required" if name in tool["parameters"].get("required", []) else ""
            enum = ", should be one of [{}]".format(", ".join(p["enum"])) if p.get("enum", None) else ""
            items = ", where each item should be {}".format(p["items"].get("type", "")) if p.get("items", None) else ""
            params += f"  - {name} ({p.get('type', '')}{required}): {p.get('description', '')}{enum}{items}\n"
        text += f"> Tool Name: {tool['name']}\nTool Description: {tool.get('description', '')}\nTool Args:\n{params}\n"
        tool_names.append(tool["name"])
    return _data()["tool_prompts"]["default"].format(tool_text=text, tool_names=", ".join(tool_names))


def _qwen_tools(tools: list[dict], prompt: str = "qwen") -> str:
    text = "".join("\n" + json.dumps(_wrapped(t), ensure_ascii=False) for t in tools)
    return _data()["tool_prompts"][prompt].format(tool_text=text)


def _glm4_tools(tools: list[dict]) -> str:
    text = "".join("\n\n## {name}\n\n{body}\n在调用上述函数时，请使用 Json 格式表示调用的参数。".format(
        name=t["name"], body=json.dumps(t, indent=4, ensure_ascii=False)) for t in map(_bare, tools))
    return _data()["tool_prompts"]["glm4"].format(tool_text=text)


def _llama3_tools(tools: list[dict]) -> str:
    text = "".join(json.dumps(_wrapped(t), indent=4, ensure_ascii=False) + "\n\n" for t in tools)
    return _data()["tool_prompts"]["llama3"].format(date=datetime.now().strftime("%d %b %Y"), tool_text=text)


def _mistral_tools(tools: list[dict]) -> str:
    return "[AVAILABLE_TOOLS] " + json.dumps([_wrapped(t) for t in tools], ensure_ascii=False) + "[/AVAILABLE_TOOLS]"


def _glm4_calls(calls: list[tuple[str, str]]) -> str:
    if len(calls) > 1:
        raise MgtError("GLM-4 templates take one function call per turn; expected the calls in separate turns")
    return f"{calls[0][0]}\n{calls[0][1]}"


def _llama3_calls(calls: list[tuple[str, str]]) -> str:
    objs = [{"name": n, "parameters": json.loads(a)} for n, a in calls]
    return json.dumps(objs[0] if len(objs) == 1 else objs, ensure_ascii=False)


def _qwen_calls(calls: list[tuple[str, str]]) -> str:
    texts = [json.dumps({"name": n, "arguments": json.loads(a)}, ensure_ascii=False) for n, a in calls]
    return "\n".join(f"<tool_call>\n{text}\n</tool_call>" for text in texts)


TOOL_FORMATS = {  # name: (tools -> system text, calls -> assistant text)
    "default": (_default_tools, lambda calls: "\n".join(f"Action: {n}\nAction Input: {a}" for n, a in calls)),
    "qwen": (_qwen_tools, _qwen_calls),
    "ling": (lambda tools: _qwen_tools(tools, "ling") + "\n" + "detailed thinking off", _qwen_calls),
    "glm4": (_glm4_tools, _glm4_calls),
    "llama3": (_llama3_tools, _llama3_calls),
    "mistral": (_mistral_tools, lambda calls: json.dumps([{"name": n, "arguments": json.loads(a)}
                                                          for n, a in calls], ensure_ascii=False)),
}


def _tool_format(fmt: str | None, name: str, part: int):
    if fmt not in TOOL_FORMATS:
        raise MgtError(f"model.template '{name}' writes tools in LLaMA-Factory's '{fmt}' format, which mgtrainer "
                       f"does not write yet; expected rows without tools, or a template with one of "
                       f"{', '.join(TOOL_FORMATS)}")
    return TOOL_FORMATS[fmt][part]


def _function_text(t: dict, name: str, content: str) -> str:
    """LF's FunctionFormatter: an assistant turn's tool calls (JSON) as the template writes them."""
    def parse(text: str) -> list[tuple[str, str]]:
        calls = json.loads(text)
        calls = calls if isinstance(calls, list) else [calls]
        return [(c["name"], json.dumps(c["arguments"], ensure_ascii=False)) for c in calls]

    fmt = _tool_format(t["function_tool_format"], name, 1)
    words = t["tool_call_words"]
    found = re.search(rf"{re.escape(words[0])}(.*?){re.escape(words[1])}", content, re.DOTALL) \
        if len(words) == 2 else None
    if found:
        return content.replace(found.group(0), "") + fmt(parse(found.group(1)))
    thought = t["thought_words"]
    seen = re.search(rf"{re.escape(thought[0])}(.*?){re.escape(thought[1])}", content, re.DOTALL) \
        if len(thought) == 2 else None
    text = fmt(parse(content.replace(seen.group(0), "") if seen else content))
    return seen.group(0) + text if seen else text


# ---- encoding: LF's Template._encode and its supervised processor ----

def _fill(slots: list, **values: str) -> list:
    """LF's StringFormatter.apply: each {{name}} replaced once, in order."""
    out = []
    for slot in slots:
        if isinstance(slot, str):
            for key, value in values.items():
                slot = slot.replace("{{" + key + "}}", value, 1)
        out.append(slot)
    return out


def _ids(tok, elements: list) -> list[int]:
    ids = []
    for e in elements:
        if isinstance(e, str):
            ids += tok.encode(e, add_special_tokens=False) if e else []
        elif "token" in e:
            ids.append(tok.convert_tokens_to_ids(e["token"]))
        else:  # a set other than bos/eos (phi_small's {"<|endoftext|>"}) writes nothing, as in LF
            tid = {"bos_token": tok.bos_token_id, "eos_token": tok.eos_token_id}.get(e["set"])
            ids += [] if tid is None else [tid]
    return ids


def lf_messages(msgs: list[dict], tools) -> tuple[list[dict], str, str]:
    """mgtrainer's messages (OpenAI roles) -> LF's (user/assistant/function/observation pairs), system, tools."""
    system = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else ""
    out = []
    for m in msgs[1:] if system else msgs:
        if m["role"] == "assistant" and m.get("tool_calls"):
            if m["content"]:
                raise MgtError("an assistant turn with both text and tool calls; LLaMA-Factory's templates write "
                               "one or the other; expected the text in its own turn")
            out.append({"role": "function", "content": calls_to_json(m["tool_calls"])})
        else:
            out.append({"role": {"tool": "observation"}.get(m["role"], m["role"]), "content": m["content"]})
    return out, system, json.dumps([_bare(t) for t in tools], ensure_ascii=False) if tools else ""


def _without_thought(t: dict, content: str) -> str:
    pattern = re.compile(f"{re.escape(t['thought_words'][0])}(.*?){re.escape(t['thought_words'][1])}", re.DOTALL)
    return re.sub(pattern, "", content).lstrip("\n")


def encode_pairs(tok, t: dict, name: str, messages: list[dict], system: str, tools: str) -> list[tuple[list, list]]:
    """(prompt ids, response ids) per turn: LF's encode_multiturn."""
    reasoning = t["class"] == "reasoning"
    if reasoning and (not t["enable_thinking"] or t["mask_history"]):  # thoughts LF removes
        last = len(messages) - 1
        messages = [dict(m, content=_without_thought(t, m["content"])) if i % 2 and (
            not t["enable_thinking"] or i < last - 1) else m for i, m in enumerate(messages)]
    system = system or t["default_system"]
    turns = []
    for i, m in enumerate(messages):
        elements, system_text = [], ""
        if i == 0:
            elements += t["prefix"]
            if system or tools:
                tool_text = _tool_format(t["tool_format"], name, 0)(json.loads(tools)) if tools else ""
                filled = _fill(t["system"], content=system + tool_text)
                if t["class"] == "llama2":
                    system_text = filled[0]
                else:
                    elements += filled
        role, content = m["role"], m["content"]
        if role == "user":
            elements += _fill(t["user"], content=system_text + content) if t["class"] == "llama2" else \
                _fill(t["user"], content=content, idx=str(i // 2))
        elif role == "assistant":
            elements += _fill(t["assistant"], content=content)
        elif role == "observation":
            elements += _fill(t["observation"], content=content)
        elif role == "function":
            elements += _fill(t["function"], content=_function_text(t, name, content))
        turns.append(_ids(tok, elements))
    if reasoning:  # an empty thought: trained before the reply, or (enable_thinking false) in the prompt
        thought = tok.encode(t["thought_words"][0] + t["thought_words"][1], add_special_tokens=False)
        for i in [len(messages) - 2] if t["mask_history"] else range(0, len(messages), 2):
            reply = messages[i + 1]["content"]
            if t["thought_words"][0].strip() not in reply and t["thought_words"][1].strip() not in reply:
                if t["enable_thinking"]:
                    turns[i + 1] = thought + turns[i + 1]
                else:
                    turns[i] = turns[i] + thought
    return [(turns[i], turns[i + 1]) for i in range(0, len(turns), 2)]


def infer_seqlen(source_len: int, target_len: int, cutoff_len: int) -> tuple[int, int]:
    """LF's truncation of one turn: keep the response when it is short, else cut both in proportion."""
    if target_len * 2 < cutoff_len:
        max_target = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target = cutoff_len - source_len
    else:
        max_target = int(cutoff_len * (target_len / (source_len + target_len)))
    new_target = min(max_target, target_len)
    return min(max(cutoff_len - new_target, 0), source_len), new_target


def check_turns(messages: list[dict], name: str) -> None:
    roles = [m["role"] for m in messages]
    ok = len(roles) % 2 == 0 and all(r in ("user", "observation") for r in roles[0::2]) \
        and all(r in ("assistant", "function") for r in roles[1::2])
    if not ok:
        raise MgtError(f"turns {roles} cannot be encoded with model.template '{name}': LLaMA-Factory's templates "
                       "take (user or tool) then (assistant) pairs after an optional system message; expected "
                       "alternating turns ending with an assistant turn")


def encode(tok, msgs: list[dict], tools, cutoff_len: int, train_on_prompt: bool = False,
           untrained: frozenset = frozenset()) -> tuple[list[int], list[int], bool]:
    """LF's supervised example: input_ids, labels and whether it was cut. `untrained`: indexes (among the
    turns) of assistant turns with weight 0, whose response is context only."""
    t = getattr(tok, ATTR)
    name = t["name"]
    messages, system, tools_json = lf_messages(msgs, tools)
    check_turns(messages, name)
    if train_on_prompt and t["efficient_eos"]:
        raise MgtError(f"model.template '{name}' puts eos after the prompt (LF's efficient_eos), which "
                       "task.train_on_prompt cannot train; expected train_on_prompt: false")
    eos = tok.eos_token_id
    ids, labels, total = [], [], 1 if t["efficient_eos"] else 0
    pairs = encode_pairs(tok, t, name, messages, system, tools_json)
    full = sum(len(s) + len(r) for s, r in pairs) + total
    last = len(pairs) - 1
    if t["mask_history"]:  # the last turn first: it is kept whole when the row is cut
        pairs = pairs[::-1]
    for turn, (source, target) in enumerate(pairs):
        if total >= cutoff_len:
            break
        s_len, t_len = infer_seqlen(len(source), len(target), cutoff_len - total)
        source, target = source[:s_len], target[:t_len]
        total += s_len + t_len
        if train_on_prompt:
            source_label = source
        elif t["efficient_eos"] and turn != 0:
            source_label = [eos] + [IGNORE] * (s_len - 1)
        else:
            source_label = [IGNORE] * s_len
        index = last - turn if t["mask_history"] else turn
        context = index in untrained or (t["mask_history"] and turn != 0)
        target_label = [IGNORE] * t_len if context else target
        if t["mask_history"]:
            ids, labels = source + target + ids, source_label + target_label + labels
        else:
            ids, labels = ids + source + target, labels + source_label + target_label
    if t["efficient_eos"]:
        ids, labels = ids + [eos], labels + [eos]
    return ids, labels, full > cutoff_len
