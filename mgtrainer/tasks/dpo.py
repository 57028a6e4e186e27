"""dpo: direct preference optimisation of a chat model on (prompt, chosen, rejected) pairs (TRL's DPOTrainer).

The trained model is a causal LM like sft's: served, predicted and parity-checked by sft's functions.
Loss variants: TRL's (sigmoid = DPO, hinge, ipo, ...) against a reference model, or the reference-free
orpo / simpo (mgtrainer.driver.pref_losses). See references/preference.md.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mgtrainer.driver.preference import PreferenceTask, PrefSpec, reference_free_spec
from mgtrainer.tasks.contract import Serve
from mgtrainer.tasks.sft import (  # noqa: F401 (a preference-tuned model is served exactly like sft's)
    call, chat_prompt, compare, probe, request, response, serve_settings, served, tokenizer)

HEAD = "causal_lm"
RECORD = "preference"
SERVE = Serve(runner="generate", endpoints=("/v1/chat/completions", "/v1/completions"))
STREAMING = False
LOSSES = ("sigmoid", "hinge", "ipo", "robust", "bco_pair", "sppo_hard", "nca_pair", "apo_zero", "apo_down",
          "exo_pair", "discopop", "sigmoid_norm", "orpo", "simpo")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["dpo"] = "dpo"
    beta: float = Field(0.1, gt=0, description="Strength of the pull toward the reference model (DPO's beta; "
                        "IPO's tau; ORPO's lambda; SimPO's beta, where 2.0-2.5 is usual). LLaMA-Factory pref_beta.")
    loss: Literal[LOSSES] = Field("sigmoid", description="Preference loss: sigmoid (DPO), hinge, ipo and TRL's "
                                  "other DPO losses use a reference model; orpo and simpo are reference-free. "
                                  "LLaMA-Factory pref_loss, TRL loss_type.")
    ftx: float = Field(0.0, ge=0, description="Weight of an added SFT loss (NLL of the chosen answer); "
                       "LLaMA-Factory pref_ftx. With loss orpo, 0 means ORPO's own weight 1.")
    simpo_gamma: float | None = Field(None, description="SimPO's target reward margin gamma (default 0.5); "
                                      "only with loss: simpo. LLaMA-Factory simpo_gamma.")
    max_prompt_length: int | None = Field(None, gt=0, description="Prompts longer than this many tokens keep "
                                          "their last tokens (default: only data.cutoff_len limits). TRL name.")
    precompute_ref_log_probs: bool = Field(False, description="Compute the reference log-probs of every row "
                                           "once before training, so no reference model is kept in memory.")

    @model_validator(mode="after")
    def _check(self):
        if self.simpo_gamma is not None and self.loss != "simpo":
            raise ValueError(f"simpo_gamma is used only by loss simpo, but loss is {self.loss!r}; expected "
                             "loss: simpo (pref_loss: simpo) or no simpo_gamma")
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
