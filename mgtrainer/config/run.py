"""RunConfig: the one config of a run. Its `task` is a union of the registry's task Configs."""

from __future__ import annotations

import functools
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, create_model, model_validator

from mgtrainer.config.sections import (
    DataConfig,
    EvalConfig,
    LoraConfig,
    ModelConfig,
    ServeConfig,
    TrainConfig,
)
from mgtrainer.tasks import TASKS, config_classes


def task_union() -> object:
    """The discriminated union of the registry's task Configs (RunConfig.task)."""
    return Annotated[Union[tuple(config_classes())], Field(discriminator="name")]


TaskConfig = task_union()


class RunConfig(BaseModel):
    """A whole run: what to train (task, model, data), how (train, lora), and how to eval and serve it."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    task: TaskConfig = Field(description="The task and its own knobs; `task: classify` is shorthand "
                             "for `task: {name: classify}`.")
    backend: Literal["native", "llamafactory"] = Field(
        "native", description="native = mgtrainer's own trainer; llamafactory = run LLaMA-Factory."
    )
    model: ModelConfig = Field(description="The base model.")
    data: DataConfig = Field(default_factory=DataConfig, description="Where the data comes from.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Optimisation, logging, "
                               "checkpoints (transformers TrainingArguments names).")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="Full, LoRA or freeze tuning.")
    eval: EvalConfig = Field(default_factory=EvalConfig, description="Evaluation knobs.")
    serve: ServeConfig = Field(default_factory=ServeConfig, description="Serving (vLLM) knobs.")

    _notes: list[str] = PrivateAttr(default_factory=list)
    _source: str | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _task_shorthand(cls, data):
        if isinstance(data, dict) and isinstance(data.get("task"), str):
            data = {**data, "task": {"name": data["task"]}}
        return data

    @model_validator(mode="after")
    def _known_template(self):
        """model.template names one of LLaMA-Factory's templates or mgtrainer's `plain`."""
        from mgtrainer.driver.templates import known, nearest

        name = self.model.template
        if self.backend == "native" and name is not None and name not in known():
            raise ValueError(f"model.template: unknown chat template '{name}'{nearest(name)}; expected a "
                             "LLaMA-Factory template name or plain (references/templates.md), or unset for the "
                             "tokenizer's own")
        lf_only = [k for k, v in (("tool_format", self.model.tool_format is not None),
                                  ("mask_history", self.model.mask_history)) if v]
        if self.backend == "native" and lf_only and (name is None or name == "plain"):
            raise ValueError(f"model.{lf_only[0]}: a setting of LLaMA-Factory's templates, but model.template is "
                             f"{name or 'unset'}; expected model.template: a LLaMA-Factory name (qwen, llama3, ...)")
        if self.model.tool_format is not None:
            from mgtrainer.driver.slot_templates import TOOL_FORMATS

            if self.model.tool_format not in TOOL_FORMATS:
                raise ValueError(f"model.tool_format: '{self.model.tool_format}' is not a tool format mgtrainer "
                                 f"writes; expected one of {', '.join(TOOL_FORMATS)}")
        return self

    @model_validator(mode="after")
    def _trl_fields(self):
        """train.trl_args go to the task's TRL config (config/trl_args.py), on mgtrainer's own trainers."""
        if not self.train.trl_args:
            return self
        from mgtrainer.config import trl_args
        from mgtrainer.tasks import get

        task, mine = self.task.name, getattr(get(self.task.name), "TRL_CONFIG", None)
        for key in self.train.trl_args:
            if key in trl_args.REFUSED:
                raise ValueError(f"train.trl_args: '{key}' is not taken: {trl_args.REFUSED[key]}")
            if mine is None:
                owners = ", ".join(trl_args.owners(key)) or "none"
                raise ValueError(f"train.trl_args: '{key}' is a field of TRL's {owners}, but task {task} does not "
                                 "train with a TRL trainer; expected no trl_args")
            if key not in trl_args.FIELDS[mine]:
                raise ValueError(f"train.trl_args: '{key}' is not a field of TRL's {mine} (task {task}); expected "
                                 "one of its fields (config/trl_args.py)")
        if self.backend != "native":
            raise ValueError(f"train.trl_args: TRL settings of mgtrainer's own trainers, but backend is "
                             f"{self.backend}; expected backend: native, or the backend's own settings")
        return self

    @model_validator(mode="after")
    def _quantized(self):
        """QLoRA (model.quantization_bit) trains LoRA adapters on frozen quantized weights, as LLaMA-Factory does."""
        bits = self.model.quantization_bit
        if bits is None:
            return self
        if self.lora.finetuning_type != "lora":
            raise ValueError(f"model.quantization_bit: {bits}-bit base weights train only LoRA adapters, but "
                             f"lora.finetuning_type is {self.lora.finetuning_type}; expected lora.finetuning_type: "
                             "lora (QLoRA), or quantization_bit unset")
        if self.backend != "native":
            raise ValueError(f"model.quantization_bit: backend {self.backend}'s env has no bitsandbytes; expected "
                             "backend: native for QLoRA")
        from mgtrainer.driver import shard

        stage = ((shard.deepspeed_config(self.train.deepspeed) or {}).get("zero_optimization") or {}).get("stage")
        if stage == 3:
            raise ValueError("model.quantization_bit: quantized weights cannot be sharded by ZeRO-3; expected "
                             "train.deepspeed unset or zero2, or quantization_bit unset")
        return self

    @model_validator(mode="after")
    def _fill_defaults(self):
        train, data = self.train, self.data
        if train.output_dir is None:
            train.output_dir = f"outputs/{self.task.name}"
        if data.seed is None:
            data.seed = train.seed
        has_eval = bool(data.eval) or data.val_size > 0
        if train.eval_strategy is None:
            train.eval_strategy = "epoch" if has_eval else "no"
        if train.eval_strategy != "no" and not has_eval:
            raise ValueError(f"train.eval_strategy is {train.eval_strategy!r} but there is no eval "
                             "data; set data.eval or data.val_size")
        if train.load_best_model_at_end and train.eval_strategy == "no":
            raise ValueError("train.load_best_model_at_end needs evaluation; set data.eval or "
                             "data.val_size")
        if train.early_stopping_patience is not None and train.eval_strategy == "no":
            raise ValueError("train.early_stopping_patience needs evaluation; set data.eval or "
                             "data.val_size")
        return self

    @property
    def notes(self) -> list[str]:
        """What loading accepted but ignored (no-op keys from other tools), one line each."""
        return self._notes

    @property
    def source(self) -> str | None:
        """The config file this was loaded from, if any."""
        return self._source


def run_config() -> type[RunConfig]:
    """RunConfig for the registry as it is now: RunConfig itself, or (a task registered after import,
    e.g. a plugin or a test's toy task) a subclass whose `task` union includes it."""
    return _for_tasks(tuple(TASKS.items()))


@functools.cache
def _for_tasks(registry: tuple) -> type[RunConfig]:
    if registry == _DEFAULT_REGISTRY:
        return RunConfig
    return create_model("RunConfig", __base__=RunConfig, task=(task_union(), Field(description="The task.")))


_DEFAULT_REGISTRY = tuple(TASKS.items())
