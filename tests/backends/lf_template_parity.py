"""Run in the llamafactory env: templates of mgtrainer/driver/lf_templates.json, on each tokenizer given,
encoded by LLaMA-Factory (its template and supervised processor) and by mgtrainer (driver/slot_templates.py,
driver/tokenize.py); prints one JSON object as its last line: {"checked": N, "differ": [...], "refused": [...]}.

    python lf_template_parity.py [--names a,b,c] TOKENIZER_DIR ... [--names all] TOKENIZER_DIR ...

--names picks the templates for the tokenizers after it (default: all). Each tokenizer is read once and copied
per template and side (LF's fix and mgtrainer's both add tokens to it).
"""

from __future__ import annotations

import copy
import json
import sys

from transformers import AutoTokenizer

from llamafactory.data.processor.supervised import SupervisedDatasetProcessor
from llamafactory.data.template import TEMPLATES, get_template_and_fix_tokenizer
from llamafactory.hparams import DataArguments

from mgtrainer.data.chat import parse_calls
from mgtrainer.data.records import Message, Record
from mgtrainer.driver import slot_templates
from mgtrainer.driver.tokenize import encode_chat
from mgtrainer.errors import MgtError

TOOLS = [{"name": "get_price", "description": "The price of a stock.",
          "parameters": {"type": "object", "properties": {
              "ticker": {"type": "string", "description": "symbol"},
              "market": {"type": "string", "enum": ["NYSE", "NASDAQ"]}}, "required": ["ticker"]}}]
U, A = "user", "assistant"
THINK = "<think>\nLet me see.\n</think>\n\n"
# (name, LF prompt turns, LF response turn, system, tools, cutoff_len, LF's template data arguments)
CASES = [
    ("one turn", [(U, "What is 2 + 3?")], (A, "2 + 3 = 5."), "", "", 1024, {}),
    ("system", [(U, "Say hi in French.")], (A, "Bonjour !"), "You answer in one line.", "", 1024, {}),
    ("multi-turn", [(U, "Name a colour."), (A, "Blue."), (U, "And another, with 'quotes'?")],
     (A, "Green, \"deep\" green."), "Be brief.", "", 1024, {}),
    ("tools", [(U, "What does AAPL cost?"), ("function", json.dumps({"name": "get_price", "arguments":
                                                                     {"ticker": "AAPL"}})),
               ("observation", '{"price": 191.2}')], (A, "AAPL costs 191.2 dollars."), "You trade.",
     json.dumps(TOOLS), 1024, {}),
    ("truncated", [(U, "Tell me a long story about a cat " * 4), (A, "Once upon a time " * 6),
                   (U, "And then?")], (A, "The cat slept for a very long time " * 3), "", "", 40, {}),
    ("default_system", [(U, "What is 2 + 3?")], (A, "5"), "", "", 1024, {"default_system": "Be terse, 'always'."}),
    ("tool_format qwen", [(U, "What does AAPL cost?"), ("function", json.dumps(
        {"name": "get_price", "arguments": {"ticker": "AAPL"}})), ("observation", '{"price": 191.2}')],
     (A, "191.2 dollars."), "", json.dumps(TOOLS), 1024, {"tool_format": "qwen"}),
    ("mask_history, thinking off", [(U, "Name a colour."), (A, THINK + "Blue."), (U, "Another?")],
     (A, THINK + "Green."), "", "", 1024, {"mask_history": True, "enable_thinking": False}),
    ("mask_history truncated", [(U, "Tell me a long story about a cat " * 4), (A, THINK + "Once upon a time " * 6),
                                (U, "And then?")], (A, "The cat slept for a very long time " * 3), "", "", 40,
     {"mask_history": True}),
]
BASE = {name: copy.deepcopy(t) for name, t in TEMPLATES.items()}  # LF's fix mutates its global templates


def lf_side(tok, name: str, case) -> tuple[list, list]:
    _, prompt, response, system, tools, cutoff, options = case
    TEMPLATES[name] = copy.deepcopy(BASE[name])
    args = DataArguments(template=name, cutoff_len=cutoff, **options)
    template = get_template_and_fix_tokenizer(tok, args)
    proc = SupervisedDatasetProcessor(template=template, tokenizer=tok, processor=None, data_args=args)
    return proc._encode_data_example([{"role": r, "content": c} for r, c in prompt],
                                     [{"role": response[0], "content": response[1]}], system, tools, [], [], [])


def mgt_record(case) -> Record:
    _, prompt, response, system, tools, _, _ = case
    msgs = [Message("system", system)] if system else []
    for role, content in [*prompt, response]:
        if role == "function":
            msgs.append(Message("assistant", "", tool_calls=parse_calls(content, "function_call")))
        else:
            msgs.append(Message({"observation": "tool"}.get(role, role), content))
    return Record("chat", messages=msgs, tools=json.loads(tools) if tools else None, source="case")


def mgt_side(tok, name: str, case) -> tuple[list, list]:
    slot_templates.attach(tok, name, **case[-1])
    row, _ = encode_chat(tok, mgt_record(case), case[-2])
    return row["input_ids"], row["labels"]


def compare(tok_dir: str, base, name: str, got: dict) -> None:
    lf_tok, ours_tok = copy.deepcopy(base), copy.deepcopy(base)
    slot_templates.attach(ours_tok, name)
    for case in CASES:
        try:
            ours = mgt_side(ours_tok, name, copy.deepcopy(case))
        except MgtError as err:
            got["refused"].append({"tokenizer": tok_dir, "template": name, "case": case[0], "error": str(err)})
            continue
        theirs = lf_side(lf_tok, name, copy.deepcopy(case))
        got["checked"] += 1
        if list(ours[0]) != list(theirs[0]) or list(ours[1]) != list(theirs[1]):
            got["differ"].append({"tokenizer": tok_dir, "template": name, "case": case[0], "ours": ours,
                                  "lf": theirs})
    TEMPLATES[name] = copy.deepcopy(BASE[name])
    template = get_template_and_fix_tokenizer(lf_tok, DataArguments(template=name))
    slot_templates.attach(ours_tok, name)
    got["checked"] += 1
    try:
        lf_jinja = template._get_jinja_template(lf_tok)
    except ValueError:  # a slot naming a token: LF keeps the tokenizer's own template
        lf_jinja = None
    if lf_jinja is not None and lf_jinja != ours_tok.chat_template:
        got["differ"].append({"tokenizer": tok_dir, "template": name, "case": "jinja",
                              "ours": ours_tok.chat_template, "lf": lf_jinja})
    if lf_tok.eos_token != ours_tok.eos_token or len(lf_tok) != len(ours_tok) or \
            lf_tok.pad_token != ours_tok.pad_token:
        got["differ"].append({"tokenizer": tok_dir, "template": name, "case": "special tokens",
                              "ours": [ours_tok.eos_token, ours_tok.pad_token, len(ours_tok)],
                              "lf": [lf_tok.eos_token, lf_tok.pad_token, len(lf_tok)]})


def main(argv: list[str]) -> int:
    got, names = {"checked": 0, "differ": [], "refused": []}, slot_templates.names()
    while argv:
        arg = argv.pop(0)
        if arg == "--names":
            value = argv.pop(0)
            names = slot_templates.names() if value == "all" else value.split(",")
            continue
        base = AutoTokenizer.from_pretrained(arg)
        for name in names:
            compare(arg, base, name, got)
    print(json.dumps(got))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
