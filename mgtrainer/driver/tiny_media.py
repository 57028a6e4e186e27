"""Tiny random vision- and audio-language models with real processors, built locally (no hub).

`llava`: LlavaForConditionalGeneration = a CLIP vision tower (28x28 images, patch 14) + a projector + a
Qwen2 language model; processor LlavaProcessor(CLIPImageProcessorPil, the local tokenizer). The PIL
image processor needs no torchvision (PyPI torchvision is a CUDA build, excluded on CPU profiles; the
Qwen2-VL processor needs a video processor that needs torchvision: references/media.md).
`qwen2_audio`: Qwen2AudioForConditionalGeneration = a Whisper-style audio encoder + a Qwen2 language
model; processor Qwen2AudioProcessor(WhisperFeatureExtractor, the local tokenizer).
Both use the local BPE tokenizer from tiny.py with the model's special tokens added, and a chat template
that renders OpenAI content parts (image / audio) and the `<image>` / `<audio>` placeholders.
"""

from __future__ import annotations

from pathlib import Path

ARCHS = ("llava", "qwen2_audio")
IMAGE_TOKEN, AUDIO_TOKEN = "<image>", "<|AUDIO|>"
AUDIO_BOS, AUDIO_EOS = "<|audio_bos|>", "<|audio_eos|>"
AUDIO_SPAN = AUDIO_BOS + AUDIO_TOKEN + AUDIO_EOS


def chat_template(media_text: dict[str, str]) -> str:
    """ChatML; content may be a string (with placeholders) or OpenAI-style parts {type: text|image|audio}."""
    part = "".join(f"{{%- elif c['type'] in ('{k}', '{k}_url', 'input_{k}') %}}{{{{- '{v}' }}}}"
                   for k, v in media_text.items())
    return (
        "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' }}"
        "{%- if message['role'] == 'assistant' %}"
        "{%- generation %}{{- message['content'] }}<|im_end|>{%- endgeneration %}"
        "{{- '\\n' }}{%- elif message['content'] is string %}{{- message['content'] + '<|im_end|>\\n' }}"
        "{%- else %}{%- for c in message['content'] %}{%- if c['type'] == 'text' %}{{- c['text'] }}"
        + part + "{%- endif %}{%- endfor %}{{- '<|im_end|>\\n' }}{%- endif %}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
    )


def _text_config(tok, hidden: int, layers: int, heads: int) -> dict:
    return dict(model_type="qwen2", vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
                num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=max(1, heads // 2),
                max_position_embeddings=4096, tie_word_embeddings=True, pad_token_id=tok.pad_token_id,
                eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"), bos_token_id=None)


def _llava(tok, hidden: int, layers: int, heads: int):
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", IMAGE_TOKEN]})
    ip = CLIPImageProcessorPil(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    proc = LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=14, vision_feature_select_strategy="default",
                          num_additional_image_tokens=1, image_token=IMAGE_TOKEN,
                          chat_template=chat_template({"image": IMAGE_TOKEN}))
    cfg = LlavaConfig(text_config=_text_config(tok, hidden, layers, heads),
                      vision_config=dict(model_type="clip_vision_model", hidden_size=64, intermediate_size=128,
                                         num_hidden_layers=2, num_attention_heads=2, image_size=28, patch_size=14,
                                         projection_dim=64),
                      image_token_index=tok.convert_tokens_to_ids(IMAGE_TOKEN), vision_feature_layer=-1,
                      vision_feature_select_strategy="default", tie_word_embeddings=True)
    return LlavaForConditionalGeneration(cfg), proc


def _qwen2_audio(tok, hidden: int, layers: int, heads: int):
    from transformers import (Qwen2AudioConfig, Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor,
                              WhisperFeatureExtractor)

    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", AUDIO_TOKEN, AUDIO_BOS, AUDIO_EOS]})
    fe = WhisperFeatureExtractor(feature_size=128, sampling_rate=16000, chunk_length=30)
    proc = Qwen2AudioProcessor(feature_extractor=fe, tokenizer=tok, chat_template=chat_template({"audio": AUDIO_SPAN}))
    cfg = Qwen2AudioConfig(text_config=_text_config(tok, hidden, layers, heads),
                           audio_config=dict(model_type="qwen2_audio_encoder", num_mel_bins=128, d_model=64,
                                             encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=128,
                                             max_source_positions=1500),
                           audio_token_index=tok.convert_tokens_to_ids(AUDIO_TOKEN), tie_word_embeddings=True)
    return Qwen2AudioForConditionalGeneration(cfg), proc


def make_tiny_media_model(out_dir: str | Path, arch: str, hidden: int = 128, layers: int = 2, heads: int = 4,
                          seed: int = 0) -> Path:
    """Write a random tiny llava / qwen2_audio model + processor + tokenizer + chat template to out_dir."""
    import torch
    from transformers import GenerationConfig

    from mgtrainer.driver.tiny import build_tokenizer

    tok = build_tokenizer()
    torch.manual_seed(seed)
    model, proc = {"llava": _llava, "qwen2_audio": _qwen2_audio}[arch](tok, hidden, layers, heads)
    tok.chat_template = proc.chat_template
    eos = [tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")]
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=tok.pad_token_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    proc.save_pretrained(out)
    tok.save_pretrained(out)
    return out
