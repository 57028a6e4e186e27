"""rerank: cross-encoder scoring (query, passage) with one logit; pointwise or listwise loss."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

HEAD = "sequence_classification"
RECORD = "rerank"
SERVE = {"runner": "pooling", "convert": "classify", "endpoints": ["/rerank", "/v1/rerank", "/score"]}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["rerank"] = "rerank"
    loss: Literal["pointwise", "listwise"] = "listwise"
    group_size: int = 8  # passages per query in listwise loss: 1 positive + group_size-1 negatives
