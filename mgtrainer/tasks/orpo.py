"""orpo: reference-free preference tuning on (prompt, chosen, rejected) pairs: ORPO (odds-ratio loss + SFT
on chosen) or SimPO (length-normalised margin loss). Trained with TRL's DPOTrainer and the losses of
mgtrainer.driver.pref_losses; no reference model is loaded. Served and predicted like sft's model."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mgtrainer.driver.preference import PreferenceTask, reference_free_spec
from mgtrainer.tasks.contract import Serve
from mgtrainer.tasks.sft import (  # noqa: F401 (a preference-tuned model is served exactly like sft's)
    call, chat_prompt, compare, probe, request, response, serve_settings, served, tokenizer)

HEAD = "causal_lm"
RECORD = "preference"
SERVE = Serve(runner="generate", endpoints=("/v1/chat/completions", "/v1/completions"))
STREAMING = False


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["orpo"] = "orpo"
    beta: float = Field(0.1, gt=0, description="ORPO's lambda (weight of the odds-ratio term; 0.1 in the paper) "
                        "or SimPO's beta (2.0-2.5 in the paper). LLaMA-Factory pref_beta.")
    loss: Literal["orpo", "simpo"] = Field("orpo", description="orpo or simpo. LLaMA-Factory pref_loss.")
    ftx: float = Field(0.0, ge=0, description="Weight of the SFT loss on the chosen answer: orpo uses 1 when "
                       "this is 0; simpo adds none unless set. LLaMA-Factory pref_ftx.")
    simpo_gamma: float | None = Field(None, description="SimPO's target reward margin gamma (default 0.5); only "
                                      "with loss: simpo. LLaMA-Factory simpo_gamma.")
    max_prompt_length: int | None = Field(None, gt=0, description="Prompts longer than this many tokens keep "
                                          "their last tokens (default: only data.cutoff_len limits). TRL name.")

    @model_validator(mode="after")
    def _check(self):
        if self.simpo_gamma is not None and self.loss != "simpo":
            raise ValueError(f"simpo_gamma is used only by loss simpo, but loss is {self.loss!r}; expected "
                             "loss: simpo or no simpo_gamma")
        return self


def spec(cfg):
    """The flow's PrefSpec: the reference-free loss (no reference model)."""
    t = cfg.task
    return reference_free_spec(t.loss == "orpo", t.beta, t.simpo_gamma, t.ftx, t.max_prompt_length)


_FLOW = PreferenceTask(spec, tokenizer)  # the preference flow (driver/preference.py) with this task's spec
run, evaluate, token_drops = _FLOW.run, _FLOW.evaluate, _FLOW.token_drops
