"""orpo: reference-free preference tuning on (prompt, chosen, rejected) pairs: ORPO (odds-ratio loss + SFT
on chosen) or SimPO (length-normalised margin loss). Trained with TRL's DPOTrainer and the losses of
mgtrainer.driver.pref_losses; no reference model is loaded. Served and predicted like sft's model."""

from typing import Literal

from pydantic import Field, model_validator

from mgtrainer.driver.preference import (
    Ftx, MaxPromptLength, PreferenceTask, SimpoGamma, check_gamma, reference_free_spec)
from mgtrainer.tasks.contract import TaskConfig
from mgtrainer.tasks.sft import (  # noqa: F401 (a preference-tuned model is a causal LM served exactly like sft's)
    HEAD, SERVE, call, chat_prompt, compare, probe, request, response, serve_settings, served, tokenizer)

RECORD = "preference"
STREAMING = False
TRL_CONFIG = "DPOConfig"  # TRL's config of this trainer: its own fields in a config go there (train.trl_args)


class Config(TaskConfig):
    name: Literal["orpo"] = "orpo"
    loss: Literal["orpo", "simpo"] = Field("orpo", description="orpo or simpo. LLaMA-Factory pref_loss.")
    beta: float = Field(0.1, gt=0, description="ORPO's lambda (weight of the odds-ratio term; 0.1 in the paper) "
                        "or SimPO's beta (2.0-2.5 in the paper). LLaMA-Factory pref_beta.")
    ftx: Ftx = 0.0
    simpo_gamma: SimpoGamma = None
    max_prompt_length: MaxPromptLength = None

    @model_validator(mode="after")
    def _check(self):
        check_gamma(self.simpo_gamma, self.loss)
        return self


def spec(cfg):
    """The flow's PrefSpec: the reference-free loss (no reference model)."""
    t = cfg.task
    return reference_free_spec(t.loss == "orpo", t.beta, t.simpo_gamma, t.ftx, t.max_prompt_length)


_FLOW = PreferenceTask(spec, tokenizer)  # the preference flow (driver/preference.py) with this task's spec
run, evaluate, token_drops = _FLOW.run, _FLOW.evaluate, _FLOW.token_drops
