"""grpo's rewards: the config schema of one reward and the callables TRL's GRPOTrainer calls.

Three kinds, mixed freely, each with a weight:

    {model: out/rm/final}                                      an rm / classify final/, scored in process
    {url: http://127.0.0.1:8000, model: out/rm/final,          the same model behind `mgtrainer serve`,
     api_key_env: MGT_API_KEY}                                 called over HTTP (/classify) with its API key
    {function: "mgtrainer.rewards:exact_number", kwargs: {}}   any Python `module:function`

A model reward reads the final/'s mgtrainer.json: a one-output model (rm) gives its raw logit; a
classifier gives the probability of `label`. Both ways to run a model reward (in process, served) share
`texts()` (what is scored) and `pick()` (which number is the reward), so they give the same numbers
(tests/tasks/test_grpo.py checks within 1e-4). Light at import: pydantic only.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Reward(BaseModel):
    """One reward function of grpo (exactly one of model-without-url, url, function)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: str | None = Field(None, description="A final/ folder (or its output folder) of an rm or classify run: "
                              "scored in process; with url, the local copy of the served model (its manifest "
                              "and chat template say what to send and which number to read).")
    url: str | None = Field(None, description="Base URL of `mgtrainer serve` serving `model` (POST /classify).")
    api_key_env: str = Field("MGT_API_KEY", description="Environment variable holding the server's API key.")
    function: str | None = Field(None, description="A Python reward `module:function` (mgtrainer.rewards has "
                                 "exact_number, number_format, digit_ratio, length_penalty).")
    kwargs: dict = Field({}, description="Keyword arguments bound to `function` (e.g. max_tokens).")
    label: str | None = Field(None, description="Classifier models: the label whose probability is the reward "
                              "(default: the last label).")
    input: Literal["chat", "completion"] | None = Field(
        None, description="What a model scores: chat = prompt + completion rendered with its chat template "
        "(default for rm), completion = the completion text alone (default for classifiers).")
    weight: float = Field(1.0, description="Weight of this reward in the sum (TRL reward_weights).")
    name: str | None = Field(None, description="Name in the logs (rewards/NAME/mean); default from the source.")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value):
        """TRL-style strings: 'module:function', 'http(s)://...' (needs model, so a mapping), else a model path."""
        if not isinstance(value, str):
            return value
        if value.startswith(("http://", "https://")):
            raise ValueError(f"reward {value!r}: a URL reward needs its model folder; expected "
                             "{url: ..., model: path/to/final}")
        return {"function": value} if ":" in value and not os.path.exists(value) else {"model": value}

    @model_validator(mode="after")
    def _one_source(self):
        if (self.function is None) == (self.model is None):
            raise ValueError("a reward is one of {model: final/}, {url: ..., model: final/} or "
                             "{function: module:function}")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r}: expected http(s)://host:port")
        if self.function and ":" not in self.function:
            raise ValueError(f"function {self.function!r}: expected module:function")
        return self

    def title(self) -> str:
        if self.name:
            return self.name
        if self.function:
            return self.function.rsplit(":", 1)[1]
        from pathlib import Path

        path = Path(self.model)
        base = path.parent.name if path.name == "final" else path.name
        return f"{base}{'_http' if self.url else ''}"


# -- shared by the in-process and the served model rewards ---------------------------------------------
def texts(tok, prompts, completions, mode: str) -> list[str]:
    """What a reward model scores per completion: the conversation rendered with its chat template, or
    the completion's text alone."""
    from mgtrainer.rewards import text_of

    if mode == "completion":
        return [text_of(c) for c in completions]
    out = []
    for prompt, completion in zip(prompts, completions):
        turns = list(prompt) if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
        answer = {"role": "assistant", "content": text_of(completion)}
        out.append(tok.apply_chat_template(turns + [answer], tokenize=False))
    return out


def pick(manifest, label: str | None, outputs: list[list[float]]) -> list[float]:
    """The reward from each output row (rm: [logit] -> the logit; classify: probabilities -> label's)."""
    if not manifest.labels:
        return [float(row[0]) for row in outputs]
    index = manifest.labels.index(label) if label is not None else len(manifest.labels) - 1
    return [float(row[index]) for row in outputs]


def _mode(spec: Reward, manifest) -> str:
    return spec.input or ("completion" if manifest.labels else "chat")


def _check_manifest(spec: Reward):
    from mgtrainer import manifest as mf
    from mgtrainer.errors import MgtError

    man = mf.read(spec.model)
    if man.head != "sequence_classification":
        raise MgtError(f"reward model {spec.model} (task.reward_funcs): a {man.task} model has no score head; "
                       "expected the final/ of a reward model or a classifier")
    if spec.label is not None and spec.label not in (man.labels or []):
        raise MgtError(f"reward label {spec.label!r} (task.reward_funcs): not a label of {spec.model}; expected "
                       f"one of {', '.join(man.labels or ['(none: a one-score model)'])}")
    if man.adapter_dir == ".":
        raise MgtError(f"reward model {spec.model} (task.reward_funcs) is a bare LoRA adapter; expected a "
                       "merged final/ (lora.merge: true)")
    return man


class ModelReward:
    """An rm / classify final/ loaded in process with the driver's loaders; the head's outputs per text."""

    def __init__(self, spec: Reward, model_cfg, batch_size: int = 16):
        from mgtrainer import manifest as mf
        from mgtrainer.driver import model as dm

        self.spec, self.manifest, self.__name__ = spec, _check_manifest(spec), spec.title()
        src = model_cfg.model_copy(update={"name_or_path": str(mf.model_dir(spec.model)), "template": None})
        self.tok = dm.load_tokenizer(src, self.manifest.head)
        self.model = dm.load_model(src, self.manifest.head, self.tok, self.manifest.labels,
                                   self.manifest.multi_label).eval()
        self.batch_size = batch_size

    def to(self, device):
        self.model.to(device)
        return self

    def outputs(self, batch_texts: list[str]) -> list[list[float]]:
        """rm: [raw logit]; classify: softmax (sigmoid per label when multi-label) probabilities."""
        import torch

        from mgtrainer.driver.pooling import forward_chunks, tokenize

        rows = []
        for i in range(0, len(batch_texts), self.batch_size):
            batch = tokenize(self.tok, batch_texts[i : i + self.batch_size],
                             max_length=self.manifest.max_length).to(self.model.device)
            with torch.no_grad():
                logits = forward_chunks(batch, lambda b: self.model(**b).logits).float()
            if self.manifest.labels:
                logits = logits.sigmoid() if self.manifest.multi_label else logits.softmax(-1)
            rows += logits.cpu().tolist()
        return rows

    def __call__(self, prompts, completions, **_) -> list[float]:
        return pick(self.manifest, self.spec.label,
                    self.outputs(texts(self.tok, prompts, completions, _mode(self.spec, self.manifest))))


class ServedReward:
    """The same model behind `mgtrainer serve`: POST /classify (the API key from spec.api_key_env)."""

    def __init__(self, spec: Reward, timeout: float = 300.0):
        from transformers import AutoTokenizer

        from mgtrainer import manifest as mf

        self.spec, self.manifest, self.__name__ = spec, _check_manifest(spec), spec.title()
        self.tok = AutoTokenizer.from_pretrained(mf.model_dir(spec.model))
        self.base, self.timeout, self._name = spec.url.rstrip("/"), timeout, None

    def _request(self, path: str, body: dict | None = None) -> dict:
        from mgtrainer.errors import MgtError

        key = os.environ.get(self.spec.api_key_env)
        headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return json.loads(r.read())
        except OSError as err:  # URLError, HTTPError, timeouts
            detail = f"HTTP {err.code} {err.read()[:200].decode(errors='replace')}" if hasattr(err, "code") else str(err)
            raise MgtError(f"reward server {self.base}{path} (task.reward_funcs url): {detail}; expected a running "
                           f"`mgtrainer serve` of {self.spec.model} with the key in ${self.spec.api_key_env}") from None

    def outputs(self, batch_texts: list[str]) -> list[list[float]]:
        if self._name is None:
            self._name = self._request("/v1/models")["data"][0]["id"]
        data = self._request("/classify", {"model": self._name, "input": batch_texts})["data"]
        return [d["probs"] for d in sorted(data, key=lambda d: d["index"])]

    def __call__(self, prompts, completions, **_) -> list[float]:
        return pick(self.manifest, self.spec.label,
                    self.outputs(texts(self.tok, prompts, completions, _mode(self.spec, self.manifest))))


class Named:
    """A reward function with its config kwargs bound and the name TRL logs it under (rewards/NAME/mean)."""

    def __init__(self, fn, name: str, kwargs: dict):
        self.fn, self.__name__, self.kwargs = fn, name, kwargs

    def __call__(self, **inputs):
        return self.fn(**inputs, **self.kwargs)


def function(spec: Reward):
    """The `module:function` callable, with spec.kwargs bound and a name for the logs."""
    import importlib

    from mgtrainer.errors import MgtError

    module, _, name = spec.function.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise MgtError(f"reward function {spec.function!r} (task.reward_funcs): {err}; expected an importable "
                       "module:function") from None
    return Named(fn, spec.title(), spec.kwargs)


def build(specs: list[Reward], model_cfg, device=None) -> list:
    """The reward callables, in config order (TRL's reward_funcs)."""
    out = []
    for spec in specs:
        if spec.function:
            out.append(function(spec))
        elif spec.url:
            out.append(ServedReward(spec))
        else:
            out.append(ModelReward(spec, model_cfg).to(device or "cpu"))
    return out
