"""mgtrainer: one config, one data layer and one CLI for training and serving LLM-based models."""

__version__ = "0.1.0"
