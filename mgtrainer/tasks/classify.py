"""classify: single- or multi-label sequence classification (encoder or decoder backbone)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

HEAD = "sequence_classification"
RECORD = "classify"
SERVE = {"runner": "pooling", "convert": "classify", "endpoints": ["/classify", "/pooling"]}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["classify"] = "classify"
    labels: list[str] | None = None  # fixed label order; default: sorted labels seen in the train data
    multi_label: bool = False  # sigmoid + BCE per label; labels in data are lists
    threshold: float = 0.5  # multi-label decision threshold
