"""kto: Kahneman-Tversky optimisation on unpaired judged answers (a conversation + true/false label),
on TRL's KTOTrainer. The trained model is a causal LM, served and predicted like sft's."""

from typing import Literal

from pydantic import Field

from mgtrainer.driver.preference import MaxPromptLength, PrecomputeRef, PreferenceTask, PrefSpec
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
    # loss kto builds its KL pairs from neighbouring rows, so TRL needs sequential sampling: the flow shuffles
    # the rows once (seeded) instead
    order = {"train_sampling_strategy": "sequential"} if t.loss == "kto" else {}
    return PrefSpec("unpaired", t.loss, t.beta, t.max_prompt_length, t.precompute_ref_log_probs,
                    args={"desirable_weight": t.desirable_weight, "undesirable_weight": t.undesirable_weight} | order)


_FLOW = PreferenceTask(spec, tokenizer)  # the preference flow (driver/preference.py) with this task's spec
run, evaluate, token_drops = _FLOW.run, _FLOW.evaluate, _FLOW.token_drops
