"""Vision-/audio-language models: load model + processor, which modalities a model takes, freeze the
towers, encode media records through the processor (loss on the last assistant turn only), collate
processor outputs (pixel_values, input_features, feature_attention_mask, ...), and generate.

Records come in with `<image>` / `<audio>` placeholders in their message text and `media` paths
(mgtrainer/data/media.py); the processor expands each placeholder into the model's media tokens.
Trainable parameters (references/media.md):
  lora   adapters on the language model's linear layers only (lora.target all-linear means those);
  full   every parameter except the vision/audio tower;
  freeze lora.freeze_trainable globs / lora.freeze_layers train (the last LM layer by default);
  then, for every type, the tower (parameters named `*vision_tower*` / `*audio_tower*`) and
  lora.freeze_include globs are frozen, and lora.freeze_exclude globs train (e.g. ['*vision_tower*']
  trains the tower).
"""

from __future__ import annotations

from mgtrainer.errors import MgtError

TOWERS = ("vision_tower", "audio_tower")
LM_LINEAR = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
MODALITY_OF = {"vision_config": "image", "audio_config": "audio"}


def modalities(model_config) -> set[str]:
    """The media kinds a transformers config takes: {"image"}, {"audio"} or set()."""
    return {kind for key, kind in MODALITY_OF.items() if getattr(model_config, key, None) is not None}


def model_modalities(path: str) -> set[str]:
    from transformers import AutoConfig

    return modalities(AutoConfig.from_pretrained(path))


def require(records, have: set[str], model: str) -> None:
    """A record with media the model cannot take is an error (never a silent drop); names the first row."""
    names = {"image": "a vision-language model (`mgtrainer model tiny OUT --arch llava`)",
             "audio": "an audio-language model (`mgtrainer model tiny OUT --arch qwen2_audio`)"}
    for rec in records:
        for m in rec.media:
            if m.kind not in have:
                raise MgtError(f"{rec.source}: the row has {m.kind} input ({m.ref[:60]}) but model '{model}' "
                               f"(model.name_or_path) takes {', '.join(sorted(have)) or 'text only'}; expected "
                               f"{names[m.kind]}")


def load(path: str, dtype=None):
    """(model, processor) of a local media model folder."""
    import transformers
    from transformers import AutoConfig, AutoProcessor

    cfg = AutoConfig.from_pretrained(path)
    cls = getattr(transformers, (cfg.architectures or ["AutoModelForImageTextToText"])[0])
    model = cls.from_pretrained(path, **({"dtype": dtype} if dtype is not None else {}))
    return model, AutoProcessor.from_pretrained(path)


def finetune(model, lora_cfg):
    """Apply lora/full/freeze and the freeze globs (module docstring); the towers frozen by default."""
    from mgtrainer.driver.model import apply_finetuning

    if lora_cfg.finetuning_type == "lora" and lora_cfg.target in ("all-linear", ["all-linear"]):
        lora_cfg = lora_cfg.model_copy(update={"target": LM_LINEAR})
    return apply_finetuning(model, lora_cfg, "causal_lm", frozen=tuple(f"*{t}*" for t in TOWERS))


def _expand(proc, text: str) -> str:
    """The data's `<audio>` placeholder -> the processor's audio span (`<image>` is llava's own token)."""
    if getattr(proc, "audio_token", None):
        return text.replace("<audio>", proc.audio_bos_token + proc.audio_token + proc.audio_eos_token)
    return text


def media_inputs(proc, media) -> dict:
    from mgtrainer.media_io import read_audio, read_image

    images = [read_image(m) for m in media if m.kind == "image"]
    audio = [read_audio(m) for m in media if m.kind == "audio"]
    kw = {"images": images} if images else {}
    if audio:
        kw.update(audio=audio, sampling_rate=proc.feature_extractor.sampling_rate)
    return kw


def chat(msgs) -> list[dict]:
    return [{"role": m.role, "content": m.content} for m in msgs]


def encode(proc, records) -> list[dict]:
    """One row per record: the processor's tensors (batch dim 1 removed for ids) and labels that train
    only the last assistant turn (the prompt, and with it every media token, is -100)."""
    tok = proc.tokenizer
    rows = []
    for rec in records:
        msgs = chat(rec.messages)
        if not msgs or msgs[-1]["role"] != "assistant":
            raise MgtError(f"{rec.source}: no assistant answer to train on (messages); expected a last assistant turn")
        kw = media_inputs(proc, rec.media)
        full = proc(text=[_expand(proc, tok.apply_chat_template(msgs, tokenize=False))], return_tensors="pt", **kw)
        prompt_text = _expand(proc, tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True))
        n_prompt = len(proc(text=[prompt_text], return_tensors="pt", **kw)["input_ids"][0])
        row = {k: v for k, v in full.items()}  # ids as lists (run_info.json previews them), media as tensors
        ids = full["input_ids"][0].tolist()
        row["input_ids"], row["attention_mask"] = ids, full["attention_mask"][0].tolist()
        row["labels"] = [-100] * n_prompt + ids[n_prompt:]
        rows.append(row)
    return rows


class Collator:
    """Pads input_ids / attention_mask / labels (right side); concatenates the processor's media tensors."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        import torch
        from torch.nn.utils.rnn import pad_sequence

        def pad(key, value):
            return pad_sequence([torch.tensor(r[key]) for r in rows], batch_first=True, padding_value=value)

        out = {"input_ids": pad("input_ids", self.pad_id), "attention_mask": pad("attention_mask", 0),
               "labels": pad("labels", -100)}
        for key in {k for r in rows for k in r} - set(out):
            parts = [r[key] for r in rows if key in r]
            out[key] = torch.cat(parts, dim=0)
        return out


def generate_ids(model, proc, msgs: list[dict], media, max_new_tokens: int = 32) -> list[int]:
    """Greedy answer ids to a conversation (placeholders in its text, media the files), special tokens kept."""
    import torch

    tok = proc.tokenizer
    while msgs and msgs[-1]["role"] == "assistant":
        msgs = msgs[:-1]
    text = _expand(proc, tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))
    batch = proc(text=[text], return_tensors="pt", **media_inputs(proc, media))
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
    return out[0][batch["input_ids"].shape[1]:].tolist()


def generate(model, proc, msgs: list[dict], media, max_new_tokens: int = 32) -> str:
    """Greedy answer text to a conversation."""
    return proc.tokenizer.decode(generate_ids(model, proc, msgs, media, max_new_tokens), skip_special_tokens=True).strip()
