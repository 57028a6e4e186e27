"""sft: supervised fine-tuning of a chat model; only assistant turns are trained by default."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

HEAD = "causal_lm"
RECORD = "chat"
SERVE = {"runner": "generate", "endpoints": ["/v1/chat/completions", "/v1/completions"]}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["sft"] = "sft"
    train_on_prompt: bool = False  # also train system/user/tool tokens
