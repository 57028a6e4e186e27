"""The config layer: one pydantic RunConfig, loaded from YAML/JSON plus `key=value` overrides.

    from mgtrainer.config import load_config
    cfg = load_config("run.yaml", ["train.learning_rate=1e-4", "lora_rank=16"])

Names from transformers TrainingArguments, TRL, PEFT and LLaMA-Factory are accepted and mapped onto
one canonical field each (mgtrainer/config/aliases.py); see references/config.md.
"""

__all__ = ["RunConfig", "load_config", "parse_value"]


def __getattr__(name: str):
    # Lazy: `mgtrainer --help` imports mgtrainer.cli.config, which must not pay for pydantic models.
    if name == "RunConfig":
        from mgtrainer.config.run import RunConfig

        return RunConfig
    if name in ("load_config", "parse_value"):
        from mgtrainer.config import load

        return getattr(load, name)
    raise AttributeError(name)
