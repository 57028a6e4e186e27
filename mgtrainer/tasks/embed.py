"""embed: bi-encoder embeddings trained with InfoNCE over in-batch and hard negatives."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

HEAD = "encoder"
RECORD = "embed"
SERVE = {"runner": "pooling", "convert": "embed", "endpoints": ["/v1/embeddings", "/pooling"]}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["embed"] = "embed"
    pooling: Literal["mean", "cls", "last"] = "mean"
    normalize: bool = True
    temperature: float = 0.05
    hard_negatives: int = 3  # hard negatives per query taken from `neg`
    query_instruction: str | None = None  # prepended to queries (a row's `prompt` wins)
    passage_instruction: str | None = None
