"""The task contract: what every module in mgtrainer.tasks.TASKS declares about itself.

A task module is the one place that knows its task: how it trains and evaluates, how vLLM serves it,
how a prediction row becomes an engine request and an engine output becomes columns, and how the
served model is checked against the training-side forward. Everything above (mgtrainer.app, serve/,
config aliases, preview) reads these names from the registry; nothing else says a task's name.

Light: pydantic and typing only (a test imports every task without torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from mgtrainer.driver.serving import Verdict  # noqa: F401 (the contract's compare returns one)


@dataclass(frozen=True)
class Serve:
    """How vLLM serves a task: `--runner` (generate | pooling), `--convert` (classify | embed | None) and
    the HTTP endpoints the banner lists (the first is the curl example)."""

    runner: str
    endpoints: tuple[str, ...]
    convert: str | None = None


@dataclass
class Data:
    """The loaded data a task trains and evaluates on (mgtrainer.app loads it once, for task.RECORD).

    train: records (a list), or with data.streaming the data layer's lazy RecordStream;
    eval: records; shuffle / rejects: the data layer's buffer shuffle and rejected-row counter, set
    with data.streaming only (the driver's RowStream uses them).
    """

    train: Any
    eval: list
    shuffle: Callable | None = None
    rejects: Any = None


class TaskConfig(BaseModel):
    """The base of every task's Config: an unknown key is an error (with the nearest name), never ignored."""
    model_config = ConfigDict(extra="forbid")


Post = Callable[[str, dict], dict]  # post(endpoint, json body) -> the server's json answer


@runtime_checkable
class Task(Protocol):
    """A task module (module-level names; `self` is the module)."""

    Config: type[BaseModel]  # the task's own knobs; `name: Literal["<task>"]` joins RunConfig.task
    HEAD: str  # causal_lm | sequence_classification | encoder
    RECORD: str  # the data-layer record kind it trains on (mgtrainer.data.records)
    SERVE: Serve
    STREAMING: bool  # may train from a record stream (data.streaming)

    def run(self, cfg, data: Data) -> dict:
        """Train (+ eval), write final/ and its manifest; returns the final metrics."""

    def evaluate(self, cfg, data: Data, model_dir) -> dict:
        """Metrics of the trained model_dir on data.eval (data.train when there is no eval)."""

    def serve_settings(self, manifest) -> dict:
        """vLLM engine settings the trained model needs beyond runner/convert (pooler_config, hf_overrides)."""

    def request(self, row, manifest, tok) -> Any:
        """One predict row -> one engine input (prompt ids, a text, a (query, passage) pair)."""

    def call(self, engine, requests: list, max_new_tokens: int) -> list:
        """Run an engine (mgtrainer.serve.engines: HF or vLLM, one interface) on requests -> raw outputs."""

    def response(self, output, manifest, tok) -> dict:
        """One raw engine output -> the prediction columns added to its row."""

    def probe(self, manifest) -> list[dict]:
        """The rows `serve --check` sends to both the server and the training-side forward."""

    def served(self, post: Post, rows: list, requests: list) -> tuple[str, list]:
        """(endpoint, outputs) of the running server for the probe rows, shaped like call()'s."""

    def compare(self, endpoint: str, ref: list, got: list, eos: set[int]) -> Verdict:
        """Served outputs against the reference outputs: equal within the task's tolerance or not."""


# Optional: DEFAULTS = {section: {field: value}}: the task's own defaults for fields a run leaves unset
#   (config/resolving.py applies them before validation; `mgtrainer config show` prints the result).
# Optional: tasks whose rows are token sequences also define
#   encode(cfg, tok, records) -> mgtrainer.driver.tokenize.Encoded   (`mgtrainer data preview` shows it)
#   tokenizer(cfg, model_cfg) -> (tok, template name)   (`data pack`, `data check --model`)
#   token_drops(cfg, tok, records) -> [(source, reason)]   rows training drops once tokenised
#                                      (`mgtrainer data check --task T --model M` lists them)
# A task that trains with a shared family flow gets run / evaluate (and token_drops) from that flow's typed
# spec, which declares every hook the flow reads: driver/causal.CausalTask (pt, sft), driver/preference.
# PreferenceTask (dpo, kto, orpo); the pooling tasks hand driver/pooling_fit.PoolingSpec to fit_pooling.
