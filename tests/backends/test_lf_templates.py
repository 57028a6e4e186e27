"""model.template takes LLaMA-Factory's template names and encodes as LLaMA-Factory does: ids, loss masks,
truncation, the fixed tokenizer and the jinja template, compared with LLaMA-Factory itself (its template and
supervised processor, in the llamafactory env) for every template mgtrainer ships, on four tokenizers: the real
SmolLM2 (byte-level BPE) and MiniLM (WordPiece, no eos) ones, the tiny qwen2's, and a sentencepiece-style one
(Metaspace, as Llama 2 and Mistral) built here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mgtrainer.driver import slot_templates, templates
from mgtrainer.errors import MgtError

REPO = Path(__file__).resolve().parents[2]
# the 25 names references/templates.md lists as the most used; each must be here
MOST_USED = ["alpaca", "chatglm3", "chatml", "cohere", "cpm4", "deepseek", "deepseek3", "deepseekr1",
             "default", "empty", "falcon", "gemma", "gemma2", "glm4", "intern2", "llama2", "llama3", "mistral",
             "phi", "phi4", "qwen", "qwen3", "qwen3_nothink", "smollm2", "vicuna", "yi", "zephyr"]


def metaspace_tokenizer(out: Path) -> Path:
    """A Llama-2-style tokenizer: Metaspace pre-tokenizer (a '▁' before the first word of each piece), <s> / </s>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    tok.decoder = decoders.Metaspace(prepend_scheme="first")
    corpus = ["What is 2 + 3? Say hi in French. Bonjour ! Name a colour. Blue. Green, deep green.",
              "[INST] <<SYS>> You answer in one line. <</SYS>> [/INST] Tell me a long story about a cat."] * 50
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
                                                        show_progress=False))
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
                            ).save_pretrained(out)
    return out


def test_the_most_used_names_are_llamafactorys_own_and_plain_is_mgtrainers():
    assert len(MOST_USED) >= 25 and set(MOST_USED) <= set(slot_templates.names())
    assert "plain" in templates.known() and set(slot_templates.names()) <= set(templates.known())


def test_an_unknown_name_is_refused_with_the_nearest_names(tiny_qwen2):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    with pytest.raises(MgtError, match=r"unknown chat template 'mistal' \(model.template\) \(nearest: mistral"):
        templates.apply_template(tok, "mistal")


def test_ids_masks_and_tokenizer_equal_llamafactorys_for_every_template(tiny_qwen2, minilm, smollm2, tmp_path):
    """Every template on the two tokenizers built here; the most used ones on the two real tokenizers too."""
    every, most = [tiny_qwen2, metaspace_tokenizer(tmp_path / "metaspace")], [minilm, smollm2]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "env", "run", "llamafactory", "--", "python",
                           str(REPO / "tests" / "backends" / "lf_template_parity.py"), *map(str, every),
                           "--names", ",".join(MOST_USED), *map(str, most)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    # 9 conversations (one turn, system, multi-turn, tools, truncated; LF's default_system, tool_format,
    # mask_history and enable_thinking: false) + the jinja/special-token check, per template and tokenizer; only
    # the tools case of templates whose tool format mgtrainer lacks is refused
    runs = len(every) * len(slot_templates.names()) + len(most) * len(MOST_USED)
    assert got["checked"] + len(got["refused"]) == runs * 10
    assert got["differ"] == [], json.dumps(got["differ"][:2])[:3000]
    refused = {r["template"] for r in got["refused"]}
    assert {r["case"] for r in got["refused"]} == {"tools"} and len(refused) <= 6, refused
    assert all("does not write yet" in r["error"] for r in got["refused"])


def test_an_lf_template_trains_the_reply_and_its_closing_tokens_only(tiny_qwen2):
    """qwen: eos becomes <|im_end|>, the default system prompt is rendered and not trained, the reply with
    '<|im_end|>\\n' is (LF trains the newline after it too); a weight-0 turn is context."""
    from transformers import AutoTokenizer

    from mgtrainer.data.records import Message, Record
    from mgtrainer.driver.tokenize import encode_chat

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    assert templates.apply_template(tok, "qwen") == "qwen" and tok.eos_token == "<|im_end|>"
    rec = Record("chat", source="f.jsonl:3", messages=[
        Message("user", "hi"), Message("assistant", "old", weight=0), Message("user", "sum?"),
        Message("assistant", "5")])
    row, cut = encode_chat(tok, rec, 512)
    text = tok.decode(row["input_ids"])
    assert text.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.") and not cut
    trained = tok.decode([i for i, lab in zip(row["input_ids"], row["labels"]) if lab != -100])
    assert trained == "5<|im_end|>\n"
    assert tok.apply_chat_template([{"role": "user", "content": "sum?"}], tokenize=False) == \
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n" \
        "<|im_start|>user\nsum?<|im_end|>\n<|im_start|>assistant\n"
    bad = Record("chat", source="f.jsonl:9", messages=[Message("user", "a"), Message("user", "b"),
                                                       Message("assistant", "c")])
    with pytest.raises(MgtError, match=r"^f.jsonl:9: turns \['user', 'user', 'assistant'\] cannot be encoded"):
        encode_chat(tok, bad, 512)


def test_default_system_reaches_the_tokenizers_own_template_and_lf_only_settings_need_an_lf_template(
        tiny_qwen2, make_cfg):
    """model.default_system with the tokenizer's own template: put first where a row has no system message (and
    trained nowhere); tool_format / mask_history without a LLaMA-Factory template: one config-time line."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen2)
    assert templates.apply_template(tok, None, default_system="Be terse, 'always'.") == "model"
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert text.startswith("<|im_start|>system\nBe terse, 'always'.<|im_end|>\n<|im_start|>user\nhi")
    own = tok.apply_chat_template([{"role": "system", "content": "Mine."}, {"role": "user", "content": "hi"}],
                                  tokenize=False)
    assert "Be terse" not in own and own.startswith("<|im_start|>system\nMine.")
    with pytest.raises(Exception, match=r"model.mask_history: a setting of LLaMA-Factory's templates, but "
                                        r"model.template is unset"):
        make_cfg("sft", tiny_qwen2, ["a.jsonl"], overrides=["model.mask_history=true"])
    with pytest.raises(Exception, match=r"model.tool_format: 'hermes' is not a tool format mgtrainer writes"):
        make_cfg("sft", tiny_qwen2, ["a.jsonl"], overrides=["model.template=qwen", "model.tool_format=hermes"])
