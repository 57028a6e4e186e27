"""dpo: direct preference optimisation of a chat model on (prompt, chosen, rejected) pairs (TRL's DPOTrainer).

The trained model is a causal LM like sft's: served, predicted and parity-checked by sft's functions.
Loss variants: TRL's (sigmoid = DPO, hinge, ipo, ...) against a reference model, or the reference-free
orpo / simpo (mgtrainer.driver.pref_losses). See references/preference.md.
"""

from typing import Literal

from pydantic import Field, model_validator

from mgtrainer.driver.preference import (
    Ftx, MaxPromptLength, PrecomputeRef, PreferenceTask, PrefSpec, SimpoGamma, check_gamma, reference_free_spec)
from mgtrainer.tasks.contract import TaskConfig
from mgtrainer.tasks.sft import (  # noqa: F401 (a preference-tuned model is a causal LM served exactly like sft's)
    HEAD, SERVE, call, chat_prompt, compare, probe, request, response, serve_settings, served, tokenizer)

RECORD = "preference"
STREAMING = False
TRL_CONFIG = "DPOConfig"  # TRL's config of this trainer: its own fields in a config go there (train.trl_args)
LOSSES = ("sigmoid", "hinge", "ipo", "robust", "bco_pair", "sppo_hard", "nca_pair", "apo_zero", "apo_down",
          "exo_pair", "discopop", "sigmoid_norm", "orpo", "simpo")


class Config(TaskConfig):
    name: Literal["dpo"] = "dpo"
    beta: float = Field(0.1, gt=0, description="Strength of the pull toward the reference model (DPO's beta; "
                        "IPO's tau; ORPO's lambda; SimPO's beta, where 2.0-2.5 is usual). LLaMA-Factory pref_beta.")
    loss: Literal[LOSSES] = Field("sigmoid", description="Preference loss: sigmoid (DPO), hinge, ipo and TRL's "
                                  "other DPO losses use a reference model; orpo and simpo are reference-free. "
                                  "LLaMA-Factory pref_loss, TRL loss_type.")
    ftx: Ftx = 0.0
    simpo_gamma: SimpoGamma = None
    max_prompt_length: MaxPromptLength = None
    precompute_ref_log_probs: PrecomputeRef = False

    @model_validator(mode="after")
    def _check(self):
        check_gamma(self.simpo_gamma, self.loss)
        if self.precompute_ref_log_probs and self.loss in ("orpo", "simpo"):
            raise ValueError(f"loss {self.loss!r} is reference-free, so precompute_ref_log_probs has nothing "
                             "to precompute; expected precompute_ref_log_probs: false")
        return self


def spec(cfg):
    """The flow's PrefSpec: TRL's loss (+ an SFT term weighted ftx), or a reference-free loss."""
    t = cfg.task
    if t.loss in ("orpo", "simpo"):
        return reference_free_spec(t.loss == "orpo", t.beta, t.simpo_gamma, t.ftx, t.max_prompt_length)
    losses, weights = ([t.loss, "sft"], [1.0, t.ftx]) if t.ftx else ([t.loss], None)
    return PrefSpec("pairs", losses, t.beta, t.max_prompt_length, t.precompute_ref_log_probs,
                    args={"loss_weights": weights})


_FLOW = PreferenceTask(spec, tokenizer)  # the preference flow (driver/preference.py) with this task's spec
run, evaluate, token_drops = _FLOW.run, _FLOW.evaluate, _FLOW.token_drops
