"""rm: reward model; one-logit sequence-classification head trained with a Bradley-Terry loss."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

HEAD = "sequence_classification"
RECORD = "preference"
SERVE = {"runner": "pooling", "convert": "classify", "endpoints": ["/classify", "/pooling"]}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["rm"] = "rm"
    margin: float = 0.0  # Bradley-Terry with margin: -log sigmoid(r_chosen - r_rejected - margin)
