"""Two engines with one interface: vLLM's offline engine and plain transformers (the training-side forward).

    generate(prompt_ids, max_new_tokens) -> generated token ids per prompt (greedy)
    classify(texts) -> per text: label probabilities (softmax, or sigmoid per label when multi-label)
    score(texts, pairs=None) -> per text (rm) or (query, passage) pair (rerank): the head's raw logit
    embed(texts) -> per text: the pooled (and, as trained, normalised) vector

The transformers engine is what `serve --check` compares the server against: the same forward the
training tasks use (mgtrainer.driver.model.auto_class, mgtrainer.driver.pooling.pool: the same code).
torch, transformers and vllm are imported only when an engine is made.
"""

from __future__ import annotations

import os
from pathlib import Path

from mgtrainer import manifest as mf


def make(kind: str, path: str | Path, batch_size: int = 16, progress: bool = True):
    return (VLLMEngine if kind == "vllm" else HFEngine)(path, batch_size=batch_size, progress=progress)


def load_tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _bar(iterable, total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="batch", disable=not enabled)


class HFEngine:
    """transformers in float32 on CPU (the model's dtype on GPU), batched with padding."""

    def __init__(self, path, batch_size: int = 16, progress: bool = True):
        import torch

        self.manifest, self.model_dir = mf.read(path), mf.model_dir(path)
        self.tokenizer = load_tokenizer(self.model_dir)
        self.batch_size, self.progress = batch_size, progress
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self._model = None

    def model(self, kind: str):
        import torch

        from mgtrainer.driver.model import auto_class

        if self._model is None:
            cls = auto_class(kind)
            dtype = torch.float32 if self.device == "cpu" else "auto"
            self._model = self._load(cls, dtype).to(self.device).eval()
        return self._model

    def _load(self, cls, dtype):
        """final/ itself, or (lora.merge: false) its base model with the adapter merged in."""
        from mgtrainer.serve import vllm as sv

        if not sv.adapter_only(self.model_dir):
            return cls.from_pretrained(self.model_dir, dtype=dtype)
        from peft import PeftModel

        labels = self.manifest.labels or ["score"]  # rm / rerank: one raw logit
        extra = {"num_labels": len(labels), "id2label": dict(enumerate(labels))} \
            if self.manifest.head == "sequence_classification" else {}
        base = cls.from_pretrained(sv.adapter_base(self.model_dir), dtype=dtype, **extra)
        if base.config.pad_token_id is None:
            base.config.pad_token_id = self.tokenizer.pad_token_id
        return PeftModel.from_pretrained(base, self.model_dir).merge_and_unload()

    def _batches(self, items: list, desc: str):
        chunks = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        return _bar(chunks, len(chunks), desc, self.progress)

    def generate(self, prompts: list[list[int]], max_new_tokens: int) -> list[list[int]]:
        import torch

        model, tok, out = self.model("causal_lm"), self.tokenizer, []
        eos = model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        for chunk in self._batches(prompts, "generate (hf)"):
            width = max(len(p) for p in chunk)  # left padding: every prompt ends where generation starts
            ids = torch.tensor([[tok.pad_token_id] * (width - len(p)) + p for p in chunk], device=self.device)
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk], device=self.device)
            with torch.no_grad():
                gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                     do_sample=False, pad_token_id=tok.pad_token_id)
            out += [_until_eos(row[width:].tolist(), eos) for row in gen]
        return out

    def _encode(self, texts: list[str], pairs: list[str] | None, kind: str):
        import torch

        model, outs = self.model(kind), []
        items = list(zip(texts, pairs)) if pairs is not None else [(t, None) for t in texts]
        for chunk in self._batches(items, f"{self.manifest.task} (hf)"):
            first = [a for a, _ in chunk]
            second = [b for _, b in chunk] if pairs is not None else None
            batch = self.tokenizer(first, second, padding=True, truncation=True, return_tensors="pt").to(self.device)
            with torch.no_grad():
                outs.append((model(**batch), batch["attention_mask"]))
        return outs

    def classify(self, texts: list[str]) -> list[list[float]]:
        rows = []
        for out, _ in self._encode(texts, None, "sequence_classification"):
            logits = out.logits.float()
            probs = logits.sigmoid() if self.manifest.multi_label else logits.softmax(-1)
            rows += probs.cpu().tolist()
        return rows

    def score(self, texts: list[str], pairs: list[str] | None = None) -> list[float]:
        return [s for out, _ in self._encode(texts, pairs, "sequence_classification")
                for s in out.logits[:, 0].float().cpu().tolist()]

    def embed(self, texts: list[str]) -> list[list[float]]:
        import torch.nn.functional as F

        from mgtrainer.driver.pooling import pool

        m, rows = self.manifest, []
        for out, mask in self._encode(texts, None, "encoder"):
            vec = pool(out.last_hidden_state, mask, m.pooling or "mean").float()
            rows += (F.normalize(vec, dim=-1) if m.normalize is not False else vec).cpu().tolist()
        return rows


def _until_eos(ids: list[int], eos: set[int]) -> list[int]:
    """Generated ids up to and including the first end token (the rest is padding)."""
    for i, t in enumerate(ids):
        if t in eos:
            return ids[: i + 1]
    return ids


class VLLMEngine:
    """vLLM's offline engine (LLM) in this process, with the settings `mgtrainer serve` uses."""

    def __init__(self, path, batch_size: int = 16, progress: bool = True):
        from mgtrainer.serve import vllm as sv

        os.environ.update({k: v for k, v in sv.vllm_env().items() if k.startswith("VLLM_")})
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # one process: faster start-up
        from vllm import LLM
        from vllm.config import PoolerConfig

        self.manifest, self.model_dir = mf.read(path), mf.model_dir(path)
        settings = sv.engine_settings(path, sv.ServeOptions())
        if "pooler_config" in settings:
            settings["pooler_config"] = PoolerConfig(**settings["pooler_config"])
        self.llm = LLM(**settings, seed=0)
        self.lora = None
        if settings.get("enable_lora"):  # lora.merge: false: the adapter on its base model, per request
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest(sv.model_name(path), 1, str(self.model_dir.resolve()))
        self.tokenizer = load_tokenizer(self.model_dir)
        self.progress = progress

    def generate(self, prompts: list[list[int]], max_new_tokens: int) -> list[list[int]]:
        from vllm import SamplingParams

        params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
        outs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=self.progress,
                                 lora_request=self.lora)
        return [list(o.outputs[0].token_ids) for o in outs]

    def classify(self, texts: list[str]) -> list[list[float]]:
        return [list(o.outputs.probs) for o in self.llm.classify(texts, use_tqdm=self.progress)]

    def score(self, texts: list[str], pairs: list[str] | None = None) -> list[float]:
        if pairs is None:
            return [o.outputs.probs[0] for o in self.llm.classify(texts, use_tqdm=self.progress)]
        return [o.outputs.score for o in self.llm.score(texts, pairs, use_tqdm=self.progress)]

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [list(o.outputs.embedding) for o in self.llm.embed(texts, use_tqdm=self.progress)]
