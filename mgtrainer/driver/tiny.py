"""Models that exist without a hub: tiny random causal LMs and the packaged all-MiniLM-L6-v2.

`make_tiny_model(out_dir, arch)` writes a Qwen2- or Llama-style causal LM (random weights, head_dim 32 so
vLLM's CPU backend can serve it) with a byte-level BPE tokenizer trained here on a built-in corpus and a
ChatML chat template (system/user/assistant/tool turns, tool specs, tool calls, `add_generation_prompt`,
and `{% generation %}` markers so transformers/TRL can return assistant masks).

The real models that also exist without a hub (all-MiniLM-L6-v2, smollm2-135m-instruct) are found by
driver/model.resolve_model.
"""

from __future__ import annotations

from pathlib import Path

from mgtrainer.errors import MgtError

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"
    "{{- '\\n</tools>\\nCall a tool with <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call><|im_end|>\\n' }}"
    "{%- elif messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- generation %}"
    "{{- message['content'] or '' }}"
    "{%- for call in (message['tool_calls'] or []) %}"
    "{%- set fn = call['function'] if call['function'] is defined else call %}"
    "{{- '\\n<tool_call>\\n{\"name\": \"' + fn['name'] + '\", \"arguments\": ' }}"
    "{{- fn['arguments'] if fn['arguments'] is string else (fn['arguments'] | tojson) }}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>' }}"
    "{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- elif message['role'] == 'tool' %}"
    "{{- '<|im_start|>tool\\n<tool_response>\\n' + message['content'] + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- elif message['role'] != 'system' or not loop.first %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

CORPUS = """\
Below is an instruction that describes a task. Write a response that appropriately completes the request.
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step.
Give three tips for staying healthy. Eat a balanced diet, exercise regularly and get enough sleep.
What is the capital of France? The capital of France is Paris. Paris is known for the Eiffel Tower.
Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.
How many clips did Natalia sell altogether in April and May? She sold 48 + 24 = 72 clips. The answer is 72.
Play the latest album by the band on the speaker in the kitchen. Add this song to my workout playlist.
What will the weather be like tomorrow in Boston? Book a table for two at an Italian restaurant tonight.
Rate this book five stars. Find the movie schedule for the nearest cinema. Search for the creative work.
You are a helpful assistant with access to the following functions. Use them if required.
{"name": "get_stock_price", "arguments": {"symbol": "AAPL"}} {"type": "function", "function": {}}
The user asked a question and the assistant answered it. Translate the sentence into French.
Summarise the following article in one paragraph. Write a short poem about the sea and the moon.
Machine learning models learn patterns from data; a language model predicts the next token.
def add(a, b):\n    return a + b\n# numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000 3.14 -1 +2 = * / % ( ) [ ] { } < > ! ? ; : , .
"""


def _corpus() -> list[str]:
    import string

    lines = CORPUS.splitlines()
    return lines * 20 + [string.printable] * 5 + ["<tool_call>\n</tool_call>\n<tool_response>\n</tool_response>"] * 20


def build_tokenizer(vocab_size: int = 1024):
    """A byte-level BPE tokenizer (every byte encodable) trained on the built-in corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"], model_max_length=2048, padding_side="right",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _config(arch: str, vocab_size: int, hidden: int, layers: int, heads: int, tok):
    from transformers import LlamaConfig, Qwen2Config

    classes = {"qwen2": Qwen2Config, "llama": LlamaConfig}
    if arch not in classes:
        raise MgtError(f"unknown tiny model arch '{arch}'; expected one of {', '.join(classes)}")
    if hidden // heads < 32:
        raise MgtError(f"head_dim {hidden // heads} < 32 (hidden {hidden} / heads {heads}); vLLM's CPU backend needs >= 32")
    return classes[arch](
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=max(1, heads // 2), max_position_embeddings=2048,
        tie_word_embeddings=True, bos_token_id=None, eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tok.pad_token_id, torch_dtype="float32",
    )


def make_tiny_model(out_dir: str | Path, arch: str = "qwen2", vocab_size: int = 1024, hidden: int = 128,
                    layers: int = 2, heads: int = 4, seed: int = 0) -> Path:
    """Write a random tiny causal LM + tokenizer + chat template to out_dir; returns out_dir."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    out = Path(out_dir)
    tok = build_tokenizer(vocab_size)
    cfg = _config(arch, len(tok), hidden, layers, heads, tok)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    eos = [tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")]
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=tok.pad_token_id)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
