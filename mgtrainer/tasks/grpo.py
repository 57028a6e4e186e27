"""grpo: Group Relative Policy Optimization (TRL's GRPOTrainer) of a chat model on prompt-only rows.

Per prompt, `num_generations` completions are sampled (transformers on CPU; vLLM on a GPU with use_vllm),
scored by the weighted `reward_funcs` (rm / classify models trained here, in process or served, and Python
functions: mgtrainer/driver/rewarding.py), and the policy moves toward the completions that beat their
group's mean, kept near the reference model by `beta` * KL. Extra dataset columns (e.g. `answer`; a chat
row's final answer as `reference`) reach the reward functions as keyword arguments, as in TRL.

Logged per step to metrics.jsonl and the report: reward (mean), reward_std (its spread), rewards/NAME/mean
and /std per reward function, kl (beta > 0), completion lengths. The output is a causal LM: served and
predicted exactly as sft. references/grpo.md has the reward schema, the reference-model memory and a run.
"""

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mgtrainer.tasks.contract import Serve, TaskConfig
from mgtrainer.driver.rewarding import Reward
from mgtrainer.driver.serving import (  # noqa: F401 (the contract's serving functions, shared with sft)
    chat_probe as probe, chat_request as request, chat_served as served, generate as call,
    generated_text as response, no_settings as serve_settings, same_generations as compare)

HEAD = "causal_lm"
RECORD = "prompt"
SERVE = Serve(runner="generate", endpoints=("/v1/chat/completions", "/v1/completions"))
STREAMING = False
TRL_CONFIG = "GRPOConfig"  # TRL's config of this trainer: its own fields in a config go there (train.trl_args)
LOSSES = Literal["grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo"]


class Config(TaskConfig):
    name: Literal["grpo"] = "grpo"
    reward_funcs: list[Reward] = Field(
        min_length=1, description="Rewards, summed with their weights: {model: rm-or-classify final/}, "
        "{url: http://host:port, model: final/, api_key_env: MGT_API_KEY}, {function: module:function, kwargs: {}}; "
        "a string is a function (module:function) or a model folder (TRL reward_funcs).")
    reward_weights: list[float] | None = Field(
        None, description="TRL reward_weights: one weight per reward_funcs entry, replacing their `weight`s.")
    num_generations: int = Field(4, ge=2, description="Completions sampled per prompt (the group). "
                                 "per_device_train_batch_size * gradient_accumulation_steps must be a multiple.")
    max_completion_length: int = Field(64, ge=1, description="Most tokens generated per completion.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature of the generations.")
    beta: float = Field(0.04, ge=0, description="KL coefficient to the reference model (logged as kl); 0 = no "
                        "reference model (less memory, no KL). LoRA: the reference is the base with adapters "
                        "disabled (no copy); full/freeze: a frozen copy of the model.")
    loss: LOSSES = Field("dapo", description="TRL loss aggregation: grpo, dr_grpo, dapo (default), bnpo, "
                         "cispo, sapo, luspo, vespo. TRL loss_type (the same field name as the preference tasks').")
    use_vllm: bool = Field(False, description="Generate with vLLM (colocated) instead of transformers; needs a "
                           "GPU and vllm in the train env.")
    log_completions: bool = Field(False, description="Print a table of sampled completions and rewards each log.")

    @field_validator("reward_funcs", mode="before")
    @classmethod
    def _one_to_list(cls, value):
        return [value] if isinstance(value, (str, dict)) else value

    @model_validator(mode="after")
    def _weights(self):
        if self.reward_weights is not None and len(self.reward_weights) != len(self.reward_funcs):
            raise ValueError(f"reward_weights has {len(self.reward_weights)} weights for {len(self.reward_funcs)} "
                             "reward_funcs; expected one per reward")
        return self

    def weights(self) -> list[float]:
        return list(self.reward_weights) if self.reward_weights is not None else [r.weight for r in self.reward_funcs]


def records_dataset(records):
    """prompt records -> a datasets.Dataset: `prompt` (chat turns) plus every extra column and `reference`."""
    from datasets import Dataset

    from mgtrainer.driver.tokenize import message_dicts

    rows = [{"prompt": message_dicts(r.messages), **(r.meta.get("extra") or {}),
             **({"reference": r.meta["reference"]} if "reference" in r.meta else {})} for r in records]
    keys = {k for row in rows for k in row}
    return Dataset.from_list([{k: row.get(k) for k in keys} for row in rows]) if rows else None


def _check_batch(cfg) -> None:
    from mgtrainer.errors import MgtError

    t, n = cfg.train, cfg.task.num_generations
    if (t.per_device_train_batch_size * t.gradient_accumulation_steps) % n:
        raise MgtError(f"train.per_device_train_batch_size * gradient_accumulation_steps = "
                       f"{t.per_device_train_batch_size * t.gradient_accumulation_steps} is not a multiple of "
                       f"task.num_generations ({n}); expected e.g. per_device_train_batch_size: {n}")
    if t.per_device_eval_batch_size % n:
        raise MgtError(f"train.per_device_eval_batch_size ({t.per_device_eval_batch_size}) is not a multiple of "
                       f"task.num_generations ({n}); expected e.g. per_device_eval_batch_size: {n}")


def grpo_config(cfg, args):
    """TRL's GRPOConfig: the TrainingArguments fields of args, the task's knobs, then the user's other GRPOConfig
    fields (train.trl_args: num_iterations, epsilon_high, top_p, scale_rewards, ...)."""
    from dataclasses import fields

    from transformers import TrainingArguments
    from trl import GRPOConfig

    g = cfg.task
    base = {f.name: getattr(args, f.name) for f in fields(TrainingArguments) if f.init}
    knobs = dict(num_generations=g.num_generations, max_completion_length=g.max_completion_length,
                 temperature=g.temperature, beta=g.beta, loss_type=g.loss, reward_weights=g.weights(),
                 use_vllm=g.use_vllm, vllm_mode="colocate", log_completions=g.log_completions, shuffle_dataset=True)
    return GRPOConfig(**base, **knobs | cfg.train.trl_args)


def grpo_trainer(cfg, rewards):
    """A trainer_cls for driver.trainer.build_trainer: its TrainingArguments become a GRPOConfig with the
    task's knobs, and the trainer is TRL's GRPOTrainer with the built reward callables."""
    from trl import GRPOTrainer

    def make(model, args, train_dataset, eval_dataset, data_collator, processing_class, compute_metrics, callbacks):
        return GRPOTrainer(model=model, reward_funcs=rewards, args=grpo_config(cfg, args), train_dataset=train_dataset,
                           eval_dataset=eval_dataset, processing_class=processing_class, callbacks=callbacks)

    return make


def run(cfg, data) -> dict:
    """Sample, score, update; eval reward on data.eval; final/ + manifest, metrics.jsonl, plots, report."""
    from mgtrainer.driver import model as dm, run as dr, trainer as dt
    from mgtrainer.driver.metrics import quality_metrics
    from mgtrainer.driver.templates import template_name
    from mgtrainer.driver import rewarding

    _check_batch(cfg)
    dr.start(cfg)
    tok = dm.load_tokenizer(cfg.model, HEAD)
    template = template_name(tok, cfg.model.template)
    model = dm.apply_finetuning(dm.load_model(cfg.model, HEAD, tok), cfg.lora, HEAD)
    rewards = rewarding.build(cfg.task.reward_funcs, cfg.model, "cuda" if _cuda() else "cpu")
    train_set, eval_set = records_dataset(data.train), records_dataset(data.eval)
    print(f"grpo: {len(train_set)} train prompts, {len(eval_set or [])} eval prompts, "
          f"{cfg.task.num_generations} completions each, rewards {[r.__name__ for r in rewards]}")
    trainer = dt.build_trainer(cfg, model, tok, train_set, eval_set, None, trainer_cls=grpo_trainer(cfg, rewards))
    dt.train(trainer, cfg)
    metrics = _final_metrics(trainer, eval_set)
    _drop_reference_adapter(trainer.model)
    return dr.conclude(trainer, tok, cfg, HEAD, metrics, template=template,
                       show=lambda m: print({k: round(v, 4) for k, v in quality_metrics(m).items()}))


def _final_metrics(trainer, eval_set) -> dict:
    """eval_reward & co. of the final model on the eval prompts, else the last logged train rewards."""
    from mgtrainer.driver.metrics import scalar_metrics

    if eval_set is not None:
        return scalar_metrics(trainer.evaluate())
    logged = [h for h in trainer.state.log_history if "reward" in h]
    keep = ("reward", "reward_std", "kl", "rewards/")
    return {k: float(v) for k, v in (logged[-1] if logged else {}).items() if k.startswith(keep) and v is not None}


def _drop_reference_adapter(model) -> None:
    """TRL keeps the LoRA reference as a second adapter named 'ref'; final/ holds the trained one only."""
    peft = getattr(model, "peft_config", None)  # a PeftModel (lora) or a plain model
    if peft and "ref" in peft:
        model.delete_adapter("ref")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def evaluate(cfg, data, model_dir) -> dict:
    """Mean (and per-function) reward of model_dir's completions on the eval prompts (train prompts if none)."""
    from mgtrainer.driver import model as dm, trainer as dt
    from mgtrainer.driver.metrics import scalar_metrics
    from mgtrainer.driver import rewarding

    _check_batch(cfg)
    src = cfg.model.model_copy(update={"name_or_path": str(model_dir)})
    tok = dm.load_tokenizer(src, HEAD)
    rewards = rewarding.build(cfg.task.reward_funcs, cfg.model, "cuda" if _cuda() else "cpu")
    rows = records_dataset(data.eval or data.train)
    trainer = dt.build_trainer(cfg, dm.load_model(src, HEAD, tok), tok, rows, rows, None,  # TRL needs a train set
                               trainer_cls=grpo_trainer(cfg, rewards))
    return scalar_metrics(trainer.evaluate())
