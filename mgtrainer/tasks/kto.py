"""kto: Kahneman-Tversky optimisation on unpaired judged answers (a conversation + true/false label),
on TRL's KTOTrainer. The trained model is a causal LM, served and predicted like sft's."""

import sys
from typing import Literal

from pydantic import Field

from mgtrainer.driver.preference import MaxPromptLength, PrecomputeRef, PreferenceTask, PrefSpec
from mgtrainer.errors import MgtError
from mgtrainer.tasks.contract import TaskConfig
from mgtrainer.tasks.sft import (  # noqa: F401 (a preference-tuned model is a causal LM served exactly like sft's)
    HEAD, SERVE, call, chat_prompt, compare, probe, request, response, serve_settings, served, tokenizer)

RECORD = "kto"
STREAMING = False
TRL_CONFIG = "KTOConfig"  # TRL's config of this trainer: its own fields in a config go there (train.trl_args)


class Config(TaskConfig):
    name: Literal["kto"] = "kto"
    beta: float = Field(0.1, gt=0, description="Strength of the pull toward the reference model (KTO's beta). "
                        "LLaMA-Factory pref_beta.")
    loss: Literal["kto", "apo_zero_unpaired"] = Field("kto", description="kto (the KTO paper's loss, with the "
                                                      "batch KL estimate) or apo_zero_unpaired. TRL loss_type.")
    desirable_weight: float = Field(1.0, gt=0, description="Weight of the losses of rows labelled true "
                                    "(desirable); LLaMA-Factory kto_chosen_weight.")
    undesirable_weight: float = Field(1.0, gt=0, description="Weight of the losses of rows labelled false "
                                      "(undesirable); LLaMA-Factory kto_rejected_weight.")
    max_prompt_length: MaxPromptLength = None
    precompute_ref_log_probs: PrecomputeRef = False



def spec(cfg):
    t = cfg.task
    shape = _two_rows_a_step(cfg) if t.loss == "kto" else {}
    # loss kto builds its KL pairs from neighbouring rows, so TRL needs sequential sampling: the flow shuffles
    # the rows once (seeded) instead
    order = {"train_sampling_strategy": "sequential"} if t.loss == "kto" else {}
    return PrefSpec("unpaired", t.loss, t.beta, t.max_prompt_length, t.precompute_ref_log_probs,
                    args={"desirable_weight": t.desirable_weight, "undesirable_weight": t.undesirable_weight} | order
                    | shape)


def _two_rows_a_step(cfg) -> dict:
    """Loss kto estimates its KL term from the other rows of a step (TRL's KTOTrainer stops at set-up with one row).
    One row per step with an even gradient_accumulation_steps (LLaMA-Factory's examples: 1 x 8, which LF's own KL
    pairing allows) becomes two rows and half the accumulation: the same rows per update, said in a note."""
    t = cfg.train
    if t.per_device_train_batch_size >= 2:
        return {}
    if t.gradient_accumulation_steps % 2:
        raise MgtError("train.per_device_train_batch_size: 1 row per step, but loss kto estimates its KL term from "
                       "the other rows of a step (TRL's KTOTrainer); expected per_device_train_batch_size >= 2, or "
                       "an even gradient_accumulation_steps (then 2 rows per step, half the accumulation)")
    steps = t.gradient_accumulation_steps // 2
    print(f"note: kto: per_device_train_batch_size 1 -> 2 and gradient_accumulation_steps "
          f"{t.gradient_accumulation_steps} -> {steps} (the same rows per update): loss kto estimates its KL term "
          "from the other rows of a step", file=sys.stderr)
    return {"per_device_train_batch_size": 2, "gradient_accumulation_steps": steps}


_FLOW = PreferenceTask(spec, tokenizer)  # the preference flow (driver/preference.py) with this task's spec
run, evaluate, token_drops = _FLOW.run, _FLOW.evaluate, _FLOW.token_drops
