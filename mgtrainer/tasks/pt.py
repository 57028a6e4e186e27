"""pt: continued pretraining on plain text, packed into blocks of data.cutoff_len tokens."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

HEAD = "causal_lm"
RECORD = "text"
SERVE = {"runner": "generate", "endpoints": ["/v1/completions", "/v1/chat/completions"]}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["pt"] = "pt"
    packing: bool = True  # concatenate documents (EOS-separated) and cut into cutoff_len blocks
