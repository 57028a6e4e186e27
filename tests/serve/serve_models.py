"""Small final/ folders per task for the serving tests and bench (built in seconds, no training).

Each is what a task's run() writes: weights + tokenizer loadable by the task's AutoModel class, and a
manifest. Decoders come from mgtrainer.driver.tiny (random Qwen2, head_dim 32); encoders are the real
all-MiniLM-L6-v2 with a freshly initialised (seeded) head where the task needs one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mgtrainer import manifest as mf


def _tokenizer_to(src: Path, out: Path) -> None:
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(src).save_pretrained(out)


def sft(out: Path, tiny_dir: Path, task: str = "sft") -> Path:
    """The tiny causal LM itself, as sft (or pt) output."""
    shutil.copytree(tiny_dir, out)
    mf.write(mf.Manifest(task=task, base_model=str(tiny_dir), head="causal_lm", template="model", max_length=512), out)
    return out


def seq_cls(out: Path, base: Path, task: str, labels: list[str] | None, seed: int = 0, **manifest) -> Path:
    """base + a seeded random sequence-classification head (num_labels = len(labels) or 1)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)
    kwargs = {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
              "label2id": {lab: i for i, lab in enumerate(labels)}} if labels else {"num_labels": 1}
    model = AutoModelForSequenceClassification.from_pretrained(base, dtype=torch.float32, **kwargs)
    with torch.no_grad():  # a head with visible spread, so the comparisons are not all about zeros
        for name, p in model.named_parameters():
            if name.startswith(("classifier", "score")):
                p.normal_(0.0, 0.5)
    if task == "rerank":
        model.config.sentence_transformers = {"activation_fn": "torch.nn.modules.linear.Identity"}
    model.save_pretrained(out)
    _tokenizer_to(base, out)
    head = "sequence_classification"
    mf.write(mf.Manifest(task=task, base_model=str(base), head=head, labels=labels, max_length=256, **manifest), out)
    return out


def classify(out: Path, minilm: Path) -> Path:
    return seq_cls(out, minilm, "classify", ["PlayMusic", "GetWeather", "BookRestaurant", "RateBook"])


def rm(out: Path, tiny_dir: Path) -> Path:
    return seq_cls(out, tiny_dir, "rm", None, template="model")


def rerank(out: Path, minilm: Path) -> Path:
    return seq_cls(out, minilm, "rerank", None)


def embed(out: Path, minilm: Path) -> Path:
    """all-MiniLM-L6-v2 as is (sentence-transformers layout: mean pooling + normalise)."""
    shutil.copytree(minilm, out, ignore=shutil.ignore_patterns("README.md", ".gitattributes"))
    mf.write(mf.Manifest(task="embed", base_model="sentence-transformers/all-MiniLM-L6-v2", head="encoder",
                         pooling="mean", normalize=True, max_length=256), out)
    return out


BUILDERS = {"sft": ("tiny", sft), "classify": ("minilm", classify), "rm": ("tiny", rm),
            "embed": ("minilm", embed), "rerank": ("minilm", rerank)}


def build(task: str, root: Path, tiny_dir: Path, minilm: Path) -> Path:
    """root/<task>/final for one task (built once; reused when already there)."""
    final = root / task / "final"
    if (final / mf.FILENAME).is_file():
        return final
    base, fn = BUILDERS[task]
    tmp = root / task / ".final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    fn(tmp, tiny_dir if base == "tiny" else minilm)
    tmp.rename(final)
    return final
