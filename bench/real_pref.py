"""Preference stages on a real instruct model: do dpo, kto, orpo and simpo make SmolLM2-135M-Instruct better at
the dates skill, and what does mgtrainer's dpo cost next to TRL's DPOTrainer?

    mgt env run train -- python bench/real_pref.py [--out /tmp/real_pref] [--steps N] [--only dpo,kto,...]

Model: SmolLM2-135M-Instruct (`model.name_or_path: smollm2-135m-instruct`, fp32 on CPU), LoRA r16 alpha 32
all-linear from the base instruct model. Data (script/examples/real/data, make_data.py): 300 train pairs
dates_dpo.jsonl (kto: dates_kto.jsonl, the same pairs unpaired), 100 held-out pairs dates_dpo_heldout.jsonl
(kto: the same pairs unpaired, written under --out), 100 held-out prompts dates_heldout.jsonl.

Sides (each its own process, run one at a time under the shared heavy-job lock --lock, so that the wall
clock does not count the wait for it):

  dpo, kto, orpo, simpo   `mgtrainer train` of script/examples/real/{dpo,kto,orpo,simpo}_lora.yaml
  trl defaults            TRL DPOTrainer + DPOConfig defaults (gradient checkpointing on, bf16 autocast on CPU)
                          with the same data, LoRA, lr, beta, steps, batch, max_length, optimizer, scheduler, seed;
                          on a CPU without native bf16 (AVX2 only) a step takes ~220 s instead of ~17 s, so
                          5 steps + the held-out eval are most of an hour: leave it out with --only on such a CPU
  trl cheapest            the same with gradient_checkpointing=False, bf16=False (fp32, no recomputation)
  kto trl defaults        TRL KTOTrainer + KTOConfig defaults, what a TRL user writes for kto_lora.yaml: the same
                          rows in mgtrainer's order (its seeded shuffle; KTOConfig samples sequentially, its KL pairs
                          are neighbouring rows), LoRA, lr, beta, weights, steps, batch, max_length, optimizer, seed
  kto trl cheapest        the same with gradient_checkpointing=False, bf16=False
  orpo trl cheapest       TRL's ORPOTrainer (trl.experimental.orpo; TRL 1.x keeps it there) with ORPOConfig: the
                          orpo yaml's lambda (beta), data, LoRA, lr, steps, batch, max_length, seed; fp32, no
                          gradient checkpointing (its defaults sides are not run: the bf16 emulation of the dpo
                          defaults side costs ~10x on this CPU)
  simpo trl cheapest      TRL's CPOTrainer (trl.experimental.cpo) with loss_type simpo, cpo_alpha 0 (no SFT term, as
                          simpo_lora.yaml), the yaml's beta and simpo_gamma, the rest as above
  lf dpo, lf kto,         LLaMA-Factory (stage dpo / kto; orpo and simpo are its dpo stage with pref_loss orpo /
  lf orpo, lf simpo       simpo) through `mgtrainer train` with backend: llamafactory (its
                          own env; the tokenizer's chat template) of the same yaml: the same LoRA, lr, beta, steps,
                          batch, cutoff, seed, fp32, no gradient checkpointing; the held-out set as its eval_dataset
                          (evaluated once, after training); Trainer.train timed inside its process by
                          bench/real_sft_hook.py, its batches' non-padding tokens counted there too
  --defaults-steps N      the TRL defaults sides run N steps only (a cost sample: no held-out eval, no save)

Quality: TRL's eval metrics on the held-out pairs (eval_rewards/accuracies, margins, chosen, rejected; kto: what
KTOTrainer logs) at step 0 (eval_on_start, where asked) and after training; then greedy answers (chat template
+ generation prompt, max_new_tokens 16) of the base model and of each trained final/ on the 100 held-out
prompts: exact match (stripped text == reference) and the win rate of trained vs base answers judged by a
rule (exact match first, then word-overlap F1 with the reference, mgtrainer.rewards:token_f1; equal = tie).

Cost (dpo sides): train phase = transformers' Trainer.train (bench/suite.py's hook) minus the evaluations run
inside it; tokens = TRL's `num_tokens` at the last step (the non-padding tokens of the prompt+chosen and
prompt+rejected sequences the model was fed, summed over steps); whole run = wall, CPU (user+sys) and peak
RSS of the process (os.wait4, bench/suite.py's measure), its final held-out eval and save included.
Prints markdown tables and writes them to bench/results/real_pref.md (--md).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shlex
import sys
import time
import random
import subprocess
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from suite import TRAINS, hook_train, measure  # noqa: E402  (bench/suite.py: Trainer.train hook, os.wait4 runner)

REAL = REPO / "script" / "examples" / "real"
DATA = REAL / "data"
PAIRS, HELDOUT_PAIRS, PROMPTS = DATA / "dates_dpo.jsonl", DATA / "dates_dpo_heldout.jsonl", DATA / "dates_heldout.jsonl"
METHODS = ("dpo", "kto", "orpo", "simpo")
TRL_SIDES = ("trl defaults", "trl cheapest")  # DPOTrainer
KTO_TRL = ("kto trl defaults", "kto trl cheapest")  # KTOTrainer
FREE_TRL = ("orpo trl cheapest", "simpo trl cheapest")  # trl.experimental ORPOTrainer, CPOTrainer(loss simpo)
LF_SIDES = ("lf dpo", "lf kto", "lf orpo", "lf simpo")  # LLaMA-Factory
SIDES = (*METHODS, *TRL_SIDES, *KTO_TRL, *FREE_TRL, *LF_SIDES)
DPO_COST = ("dpo", *TRL_SIDES, "lf dpo")  # the sides of each cost table, mgtrainer first
KTO_COST = ("kto", *KTO_TRL, "lf kto")
ORPO_COST = ("orpo", "orpo trl cheapest", "lf orpo")
SIMPO_COST = ("simpo", "simpo trl cheapest", "lf simpo")
# equal settings of the dpo cost comparison (script/examples/real/dpo_lora.yaml says the same for mgtrainer)
DPO = {"lr": 1e-3, "beta": 0.1, "batch": 8, "eval_batch": 20, "max_length": 128, "rank": 16, "alpha": 32,
       "dropout": 0.05, "seed": 42, "optim": "adamw_torch_fused", "scheduler": "linear"}
SHOWN = ("eval_loss", "eval_rewards/accuracies", "eval_rewards/margins", "eval_rewards/chosen", "eval_rewards/rejected",
         "eval_kl", "eval_kl/chosen", "eval_nll/chosen")
KTO_ROWS, KTO_HELDOUT = DATA / "dates_kto.jsonl", "dates_kto_heldout.jsonl"
EVALS: list[tuple[float, float]] = []  # (wall, CPU) of each evaluation run inside Trainer.train


# -- inside a child ---------------------------------------------------------------------------------------

def hook_evaluate() -> None:
    """Record the wall and CPU seconds of every Trainer.evaluate run inside Trainer.train (eval_on_start), so the
    train phase can leave them out."""
    from transformers import Trainer

    train, evaluate, inside = Trainer.train, Trainer.evaluate, [0]

    def train_(self, *args, **kwargs):
        inside[0] += 1
        try:
            return train(self, *args, **kwargs)
        finally:
            inside[0] -= 1

    def evaluate_(self, *args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return evaluate(self, *args, **kwargs)
        finally:
            if inside[0]:
                EVALS.append((time.perf_counter() - wall, time.process_time() - cpu))

    Trainer.train, Trainer.evaluate = train_, evaluate_


def base_model() -> str:
    from mgtrainer.driver.model import packaged_model  # smollm2-135m-instruct -> the folder `model get` imported

    return packaged_model("smollm2-135m-instruct")


def config_of(method: str) -> Path:
    return REAL / f"{method}_lora.yaml"


def run_mgtrainer(method: str, out: Path, a) -> list[dict]:
    from mgtrainer.app import runs

    over = [f"train.output_dir={out}", "train.overwrite_output_dir=true", f"train.max_steps={a.steps}",
            "train.logging_steps=1", "train.eval_strategy=no", f"train.eval_on_start={str(method in a.before).lower()}"]
    if method == "kto":
        over.append(f"data.eval=[{a.kto_eval}]")
    elif a.eval_pairs:
        over.append(f"data.eval=[{a.eval_pairs}]")
    runs.train(str(config_of(method)), over)
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()]


def conversational(path: Path) -> list[dict]:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "chosen": [{"role": "assistant", "content": r["chosen"]}],
             "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in rows]


def trl_steps(a, cheapest: bool) -> int:
    """Optimizer steps of a TRL side: --steps, or --defaults-steps for the defaults sides when given."""
    return a.steps if cheapest or not a.defaults_steps else a.defaults_steps


def run_trl(out: Path, a, cheapest: bool) -> list[dict]:
    """What a TRL user writes: DPOTrainer on conversational prompt/chosen/rejected rows, peft_config=LoraConfig."""
    from trl import DPOConfig, DPOTrainer

    same = {"gradient_checkpointing": False, "bf16": False} if cheapest else {}
    steps = trl_steps(a, cheapest)
    args = DPOConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=DPO["batch"],
                     per_device_eval_batch_size=DPO["eval_batch"], learning_rate=DPO["lr"], beta=DPO["beta"],
                     max_length=DPO["max_length"], optim=DPO["optim"], lr_scheduler_type=DPO["scheduler"],
                     seed=DPO["seed"], logging_steps=1, eval_strategy="no", eval_on_start=False, save_strategy="no", report_to="none",
                     use_cpu=True, **same)
    return finish_trl(pair_trainer(DPOTrainer, args, a), out, steps < a.steps)


def pair_trainer(cls, args, a):
    """A TRL pair trainer as its user writes it: the base model in fp32, conversational prompt/chosen/rejected
    rows, peft_config=LoraConfig with the equal settings."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = base_model()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    peft = LoraConfig(r=DPO["rank"], lora_alpha=DPO["alpha"], lora_dropout=DPO["dropout"], target_modules="all-linear",
                      task_type="CAUSAL_LM")
    return cls(model, args=args, train_dataset=Dataset.from_list(conversational(PAIRS)),
               eval_dataset=Dataset.from_list(conversational(Path(a.eval_pairs or HELDOUT_PAIRS))),
               processing_class=AutoTokenizer.from_pretrained(path), peft_config=peft)


def finish_trl(trainer, out: Path, sample: bool) -> list[dict]:
    trainer.train()
    if not sample:  # a cost sample (--defaults-steps) stops here
        trainer.evaluate()  # after training, as mgtrainer's final eval
        trainer.save_model(str(out / "final"))  # the adapter (mgtrainer saves its final model too)
    return trainer.state.log_history


def unpaired(path: Path, seed: int) -> list[dict]:
    """KTO rows as conversational prompt/completion/label, in the order mgtrainer trains them (its flow shuffles
    the encoded rows once with random.Random(data.seed); data.seed = train.seed = 42 here)."""
    rows = read_rows(path)
    random.Random(seed).shuffle(rows)
    return [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "completion": [{"role": "assistant", "content": r["completion"]}], "label": bool(r["label"])} for r in rows]


def run_trl_kto(out: Path, a, cheapest: bool) -> list[dict]:
    """What a TRL user writes for kto_lora.yaml: KTOTrainer on conversational prompt/completion/label rows,
    peft_config=LoraConfig; KTOConfig's own sequential sampling (its KL pairs are neighbouring rows)."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import KTOConfig, KTOTrainer

    path = base_model()
    same = {"gradient_checkpointing": False, "bf16": False} if cheapest else {}
    steps = trl_steps(a, cheapest)
    args = KTOConfig(output_dir=str(out), max_steps=steps, per_device_train_batch_size=DPO["batch"],
                     per_device_eval_batch_size=DPO["eval_batch"], learning_rate=DPO["lr"], beta=DPO["beta"],
                     desirable_weight=1.0, undesirable_weight=1.0, max_length=DPO["max_length"], optim=DPO["optim"],
                     lr_scheduler_type=DPO["scheduler"], seed=DPO["seed"], logging_steps=1, eval_strategy="no",
                     save_strategy="no", report_to="none", use_cpu=True, **same)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    peft = LoraConfig(r=DPO["rank"], lora_alpha=DPO["alpha"], lora_dropout=DPO["dropout"], target_modules="all-linear",
                      task_type="CAUSAL_LM")
    trainer = KTOTrainer(model, args=args, train_dataset=Dataset.from_list(unpaired(KTO_ROWS, DPO["seed"])),
                         eval_dataset=Dataset.from_list(unpaired(Path(a.kto_eval), DPO["seed"])),
                         processing_class=AutoTokenizer.from_pretrained(path), peft_config=peft)
    return finish_trl(trainer, out, steps < a.steps)


def run_trl_free(method: str, out: Path, a) -> list[dict]:
    """What a TRL user writes for orpo_lora.yaml / simpo_lora.yaml: ORPOTrainer, or CPOTrainer with loss_type simpo,
    on conversational prompt/chosen/rejected rows, peft_config=LoraConfig. These trainers log no num_tokens, so
    the non-padding tokens of the chosen and rejected sequences each step feeds are counted here (as TRL's
    DPOTrainer counts them)."""
    import yaml

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    cfg = yaml.safe_load(config_of(method).read_text())
    same = dict(output_dir=str(out), max_steps=a.steps, per_device_train_batch_size=DPO["batch"],
                per_device_eval_batch_size=DPO["eval_batch"], learning_rate=DPO["lr"], beta=cfg["pref_beta"],
                max_length=DPO["max_length"], optim=DPO["optim"],
                lr_scheduler_type=DPO["scheduler"], seed=DPO["seed"], logging_steps=1, eval_strategy="no",
                save_strategy="no", report_to="none", use_cpu=True, gradient_checkpointing=False, bf16=False)
    if method == "orpo":
        from trl.experimental.orpo import ORPOConfig as Config, ORPOTrainer as Trainer
        args = Config(**same)
    else:
        from trl.experimental.cpo import CPOConfig as Config, CPOTrainer as Trainer
        args = Config(**same, loss_type="simpo", cpo_alpha=0.0, simpo_gamma=cfg["simpo_gamma"])
    trainer = pair_trainer(Trainer, args, a)
    fed, step = [], trainer.training_step

    def training_step(model, inputs, *rest, **kw):
        fed.append(int(inputs["chosen_attention_mask"].sum() + inputs["rejected_attention_mask"].sum()))
        return step(model, inputs, *rest, **kw)

    trainer.training_step = training_step
    log = finish_trl(trainer, out, False)
    for row in (r for r in log if "loss" in r and "grad_norm" in r):
        row["num_tokens"] = float(sum(fed[:row["step"]]))
    return log


LF_TOKENS = """
import atexit, importlib.abc, importlib.util as u, json, os, sys, time
s = u.spec_from_file_location('real_sft_hook', {hook!r})
s.loader.exec_module(u.module_from_spec(s))
_tokens, _evals, _inside = [], [], [0]


class _CountTokens(importlib.abc.MetaPathFinder):
    # once transformers.trainer is loaded (after real_sft_hook's own wrapper): counts the tokens of every train
    # step, times (wall, CPU) every evaluation run inside Trainer.train (transformers evaluates at the last step
    # when eval_strategy is steps), so the train phase can leave them out
    def find_spec(self, name, path, target=None):
        if name != 'transformers.trainer':
            return None
        sys.meta_path.remove(self)
        spec = u.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            step = module.Trainer.training_step

            def training_step(self, model, inputs, *a, **kw):
                if self.model.training and 'attention_mask' in inputs:
                    _tokens.append(int(inputs['attention_mask'].sum()))
                return step(self, model, inputs, *a, **kw)

            module.Trainer.training_step = training_step
            train, evaluate = module.Trainer.train, module.Trainer.evaluate

            def train_(self, *a, **kw):
                _inside[0] += 1
                try:
                    return train(self, *a, **kw)
                finally:
                    _inside[0] -= 1

            def evaluate_(self, *a, **kw):
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    return evaluate(self, *a, **kw)
                finally:
                    if _inside[0]:
                        _evals.append([time.perf_counter() - wall, time.process_time() - cpu])

            module.Trainer.train, module.Trainer.evaluate = train_, evaluate_

        spec.loader.exec_module = exec_module
        return spec


def _dump():
    if _tokens:
        with open(os.environ['REAL_PREF_TOKENS'], 'a') as f:
            f.write(json.dumps({{'tokens': _tokens, 'evals': _evals}}) + '\\n')


if os.environ.get('REAL_PREF_TOKENS'):
    sys.meta_path.insert(0, _CountTokens())
    atexit.register(_dump)
"""


def run_lf(method: str, out: Path, a) -> list[dict]:
    """LLaMA-Factory (stage dpo / kto) through `mgtrainer train` with backend: llamafactory, as bench/real_sft.py
    runs its LF side: the method's yaml with the held-out eval set, evaluated once after training (eval_steps past
    the last step, so LF's do_eval runs the only evaluation), no checkpoints. Trainer.train is timed inside LF's
    process (bench/real_sft_hook.py through a sitecustomize on PYTHONPATH), which also sums the attention mask of
    every train batch (the non-padding tokens the model was fed, as TRL's num_tokens counts them)."""
    import yaml

    cfg = yaml.safe_load(config_of(method).read_text())
    cfg["backend"] = "llamafactory"
    cfg["model"]["name_or_path"] = base_model()
    cfg["data"]["eval"] = [a.kto_eval if method == "kto" else (a.eval_pairs or str(HELDOUT_PAIRS))]
    cfg["data"]["train"] = [str(REPO / p) for p in cfg["data"]["train"]]
    cfg["train"].update(output_dir=str(out), overwrite_output_dir=True, max_steps=a.steps, logging_steps=1,
                        eval_strategy="steps", eval_steps=100000, save_strategy="no")
    out.mkdir(parents=True, exist_ok=True)
    path = out.parent / "lf.yaml"
    path.write_text(yaml.safe_dump(cfg))
    hook = out.parent / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(LF_TOKENS.format(hook=str(REPO / "bench" / "real_sft_hook.py")))
    trains, tokens = out.parent / "trains.jsonl", out.parent / "tokens.jsonl"
    trains.unlink(missing_ok=True)
    tokens.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(hook), REAL_SFT_TRAINS=str(trains), REAL_PREF_TOKENS=str(tokens))
    proc = subprocess.run([sys.executable, "-P", "-m", "mgtrainer", "train", str(path)], env=env, cwd=REPO)
    if proc.returncode:
        raise SystemExit(f"LLaMA-Factory run failed ({proc.returncode})")
    seen = [json.loads(x) for x in trains.read_text().splitlines()] if trains.exists() else []
    if not seen:
        raise SystemExit(f"no Trainer.train call was seen in LLaMA-Factory's process ({trains})")
    counted = [json.loads(x) for x in tokens.read_text().splitlines()] if tokens.exists() else []
    # evaluations inside LF's Trainer.train (the train-phase timer is the outer wrapper, so it includes them)
    EVALS.extend(map(tuple, counted[-1]["evals"] if counted else []))
    in_eval = [sum(x) for x in zip(*EVALS)] if EVALS else [0.0, 0.0]
    TRAINS.append(seen[-1] | {"train_s": seen[-1]["train_s"] - in_eval[0], "train_cpu": seen[-1]["train_cpu"] - in_eval[1],
                              "lf_evals_in_train": [list(x) for x in EVALS]})
    EVALS.clear()  # already left out here; one() must not subtract them again
    log = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()]
    final = out / "eval_results.json"
    if final.is_file():  # LF's do_eval after training (also in the log history, unless its log skipped it)
        log.append(json.loads(final.read_text()) | {"step": a.steps})
    per_step = counted[-1]["tokens"] if counted else []
    running = 0
    for row in (r for r in log if "loss" in r and "eval_loss" not in r and "train_loss" not in r):
        running += per_step[row["step"] - 1] if row.get("step") and row["step"] <= len(per_step) else 0
        row.setdefault("grad_norm", None)
        row["num_tokens"] = float(running) if per_step else None
    return log


def one(side: str, out: Path, a) -> dict:
    hook_train()
    hook_evaluate()
    if side in TRL_SIDES:
        log = run_trl(out, a, side == "trl cheapest")
    elif side in KTO_TRL:
        log = run_trl_kto(out, a, side == "kto trl cheapest")
    elif side in FREE_TRL:
        log = run_trl_free(side.split()[0], out, a)
    elif side in LF_SIDES:
        log = run_lf(side[3:], out, a)
    else:
        log = run_mgtrainer(side, out, a)
    steps = [r for r in log if "loss" in r and "grad_norm" in r]  # the per-step training rows (logging_steps 1)
    evals = [r for r in log if "eval_loss" in r]
    train = TRAINS[-1]
    in_eval = [sum(x) for x in zip(*EVALS)] if EVALS else [0.0, 0.0]
    return {"steps": train["steps"], "train_loss": train["train_loss"], "tokens": steps[-1].get("num_tokens"),
            "first_loss": steps[0]["loss"], "last_loss": steps[-1]["loss"],
            "evals_in_train": len(EVALS) + len(train.get("lf_evals_in_train") or []),
            "lf_evals_in_train": train.get("lf_evals_in_train"),
            "train_s": train["train_s"] - in_eval[0], "train_cpu": train["train_cpu"] - in_eval[1],
            "before": next((r for r in evals if r.get("step") == 0), None), "after": evals[-1] if evals else None}


def score(model_dir: str, answers: Path, limit: int) -> dict:
    """Greedy answers of model_dir to the held-out prompts (mgtrainer's generation helpers), one json row each."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mgtrainer.data import iter_records
    from mgtrainer.driver.generate import generate, prompts_and_references

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    records = list(iter_records(PROMPTS, kind="chat"))
    prompts, refs = prompts_and_references(tok, records, limit)
    wall, cpu = time.perf_counter(), time.process_time()
    preds = generate(model, tok, prompts, max_new_tokens=16, batch_size=20)
    answers.write_text("".join(json.dumps({"prompt": _user(r), "reference": ref, "answer": p.strip()}) + "\n"
                               for r, ref, p in zip(records, refs, preds)))
    return {"gen_s": time.perf_counter() - wall, "gen_cpu": time.process_time() - cpu}


def _user(record) -> str:
    return next(m.content for m in record.messages if m.role == "user")


# -- the parent ---------------------------------------------------------------------------------------------

@contextmanager
def heavy(lock: str):
    """The shared heavy-job lock (the same flock(2) lock as `flock LOCK cmd`), held around one child."""
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def child(args: list[str], log: Path, lock: str) -> dict:
    with heavy(lock):
        got = measure([sys.executable, str(Path(__file__).resolve()), *args], log)
    text = log.read_text()
    if got["code"] or "RESULT " not in text:
        sys.exit(f"{' '.join(args)} failed (exit {got['code']}); log {log}:\n{text[-3000:]}")
    return got | json.loads(text.rsplit("RESULT ", 1)[1].splitlines()[0])


def kto_heldout(pairs: Path, dest: Path) -> Path:
    """The held-out pairs unpaired as KTO rows (right = true, wrong = false), like dates_kto.jsonl."""
    rows = [json.loads(x) for x in pairs.read_text().splitlines() if x.strip()]
    dest.write_text("".join(json.dumps({"prompt": r["prompt"], "completion": c, "label": ok}) + "\n"
                            for r in rows for c, ok in ((r["chosen"], True), (r["rejected"], False))))
    return dest


def judge(base: list[dict], trained: list[dict]) -> dict:
    """Exact match of both, and trained vs base answer per prompt: (exact, token F1) compared, exact first."""
    from mgtrainer.rewards import token_f1

    def scores(rows):
        f1 = token_f1([r["answer"] for r in rows], answer=[r["reference"] for r in rows])
        return [(float(r["answer"] == r["reference"]), f) for r, f in zip(rows, f1)]

    b, t = scores(base), scores(trained)
    wins, ties = sum(x > y for x, y in zip(t, b)), sum(x == y for x, y in zip(t, b))
    n = len(t)
    return {"n": n, "em_base": sum(x[0] for x in b) / n, "em": sum(x[0] for x in t) / n,
            "f1_base": sum(x[1] for x in b) / n, "f1": sum(x[1] for x in t) / n,
            "wins": wins, "ties": ties, "losses": n - wins - ties}


def read_rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def fmt(x, spec: str = ".4f") -> str:
    return "-" if x is None else format(x, spec) if isinstance(x, (int, float)) else str(x)


def tables(res: dict, judged: dict, gen: dict, a) -> str:
    lines = [f"SmolLM2-135M-Instruct, LoRA r{DPO['rank']} alpha {DPO['alpha']} all-linear, fp32 CPU, {a.steps} steps "
             f"x {DPO['batch']} rows (dpo/orpo/simpo: pairs of dates_dpo.jsonl; kto: rows of dates_kto.jsonl), "
             "lr and beta as in script/examples/real/*_lora.yaml; held-out: the 100 pairs of dates_dpo_heldout.jsonl "
             "(kto: the same unpaired), greedy answers to the 100 prompts of dates_heldout.jsonl.\n",
             "| method | metric | before (step 0) | after |", "|---|---|---|---|"]
    for side in [s for s in SIDES if s in res]:
        r = res[side]
        for key in SHOWN:
            before, after = (r["before"] or {}).get(key), (r["after"] or {}).get(key)
            if after is None:
                continue
            if before is None and side in ("dpo", "kto", *TRL_SIDES, *KTO_TRL, "lf dpo", "lf kto") and key != "eval_loss":
                before = "0 (by construction)"
            lines.append(f"| {side} | {key} | {fmt(before)} | {fmt(after)} |")
    if judged:
        lines += ["", "| method | prompts | exact match base | exact match trained | token F1 base | token F1 trained | "
                  "trained wins | ties | base wins | win rate (wins / prompts) | win rate (ties half) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for side, j in judged.items():
            lines.append(f"| {side} | {j['n']} | {j['em_base']:.2f} | {j['em']:.2f} | {j['f1_base']:.3f} | {j['f1']:.3f} "
                         f"| {j['wins']} | {j['ties']} | {j['losses']} | {j['wins'] / j['n']:.2f} | "
                         f"{(j['wins'] + j['ties'] / 2) / j['n']:.2f} |")
        lines += ["", "| model | generation wall s | generation CPU s | whole scoring process CPU s |",
                  "|---|---|---|---|"]
        lines += [f"| {side} | {g['gen_s']:.1f} | {g['gen_cpu']:.1f} | {g['cpu']:.1f} |" for side, g in gen.items()]
    for stage, sides in (("dpo", DPO_COST), ("kto", KTO_COST), ("orpo", ORPO_COST), ("simpo", SIMPO_COST)):
        if len([s for s in sides if s in res]) > 1:
            lines += ["", *cost_table(stage, sides, res)]
    return "\n".join(lines)


def side_name(side: str) -> str:
    if side in METHODS:
        return f"mgtrainer {side}"
    if side in TRL_SIDES:
        return f"TRL DPOTrainer, {side[4:]}"
    if side in KTO_TRL:
        return f"TRL KTOTrainer, {side[8:]}"
    if side in FREE_TRL:
        return f"TRL {'ORPOTrainer' if side.startswith('orpo') else 'CPOTrainer (loss simpo)'}, cheapest"
    return f"LLaMA-Factory {side[3:]}"


def cost_table(stage: str, sides: tuple, res: dict) -> list[str]:
    """Train CPU per 1k tokens and peak RSS of one stage's sides, against mgtrainer's (the first side)."""
    ref = res[sides[0]]["train_cpu"] / res[sides[0]]["tokens"] if res.get(sides[0], {}).get("tokens") else None
    lines = [f"| {stage} side | steps | train tokens | train-phase wall s | train-phase CPU s | train CPU-s / 1k tokens "
             "| vs mgtrainer | whole-run wall s | whole-run CPU s | peak RSS MiB | first-step loss | last-step loss "
             "| held-out reward accuracy | held-out margin | held-out reward chosen | held-out reward rejected |",
             "|---" * 16 + "|"]
    for side in [s for s in sides if s in res]:
        r = res[side]
        per = r["train_cpu"] / r["tokens"] if r.get("tokens") else None
        after = r["after"] or {}
        lines.append(f"| {side_name(side)} | {r['steps']} | {fmt(r.get('tokens'), '.0f')} | {r['train_s']:.1f} | "
                     f"{r['train_cpu']:.1f} | {fmt(1000 * per if per else None, '.2f')} | "
                     f"{fmt(per / ref if ref and per else None, '.2f')}x | {r['wall']:.1f} | {r['cpu']:.1f} | "
                     f"{r['rss_mib']:.0f} | {r['first_loss']:.4f} | {r['last_loss']:.4f} | "
                     f"{fmt(after.get('eval_rewards/accuracies'))} | {fmt(after.get('eval_rewards/margins'))} | "
                     f"{fmt(after.get('eval_rewards/chosen'))} | {fmt(after.get('eval_rewards/rejected'))} |")
    what = ("the prompt+chosen and prompt+rejected sequences" if stage != "kto" else
            "the prompt+completion sequences (not the KL batch's mismatched pairs)")
    return lines + ["", f"train tokens: TRL's num_tokens at the last step (LLaMA-Factory: its batches' attention mask, "
                    f"summed by the same rule), the non-padding tokens of {what} of every train batch. Train phase: "
                    "Trainer.train minus the evaluations inside it (none here); whole run: the process (imports, load, "
                    "tokenise, train, the final held-out eval, save: mgtrainer and LLaMA-Factory write a merged final/ "
                    "model, TRL the adapter; a side run for fewer steps than --steps is a cost sample: no eval, no "
                    "save), os.wait4 on the process tree. One round per side, each alone under the heavy-job lock, "
                    "one after another (not interleaved), on a machine shared with other jobs."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/real_pref")
    ap.add_argument("--steps", type=int, default=5, help="optimizer steps of every side (batch 8; the configs say 5)")
    ap.add_argument("--only", default=",".join((*METHODS, *TRL_SIDES)), help="comma-separated sides of: " + ",".join(SIDES))
    ap.add_argument("--defaults-steps", type=int, default=0, help="steps of the TRL defaults sides (0: --steps); fewer "
                    "than --steps = a cost sample without eval or save")
    ap.add_argument("--before", default="orpo", help="sides that also evaluate at step 0 (dpo/kto: 0 by construction; simpo's step-0 accuracy is orpo's: both rank a pair by its mean token log-prob)")
    ap.add_argument("--score", default="base,dpo,kto,orpo,simpo", help="models whose greedy answers are scored")
    ap.add_argument("--limit", type=int, default=100, help="held-out prompts and pairs (fewer: a dev run)")
    ap.add_argument("--reuse", action="store_true", help="keep the results of sides already done in --out")
    ap.add_argument("--lock", default="/tmp/mgt-heavy.lock")
    ap.add_argument("--md", default=str(REPO / "bench" / "results" / "real_pref.md"), help="'' = do not write")
    ap.add_argument("--one", nargs=2, metavar=("SIDE", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--gen", nargs=2, metavar=("MODEL", "ANSWERS"), help=argparse.SUPPRESS)
    ap.add_argument("--eval-pairs", default="", help=argparse.SUPPRESS)
    ap.add_argument("--kto-eval", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.before = set(filter(None, a.before.split(",")))
    if a.one:
        print("RESULT " + json.dumps(one(a.one[0], Path(a.one[1]), a)))
        return
    if a.gen:
        print("RESULT " + json.dumps(score(a.gen[0], Path(a.gen[1]), a.limit)))
        return
    out = Path(a.out)
    (out / "data").mkdir(parents=True, exist_ok=True)
    pairs = HELDOUT_PAIRS
    if a.limit < 100:  # a dev run: the first --limit held-out pairs
        pairs = out / "data" / "heldout_pairs.jsonl"
        pairs.write_text("".join(HELDOUT_PAIRS.read_text().splitlines(keepends=True)[:a.limit]))
    kto_eval = kto_heldout(pairs, out / "data" / "dates_kto_heldout.jsonl")
    flags = ["--steps", str(a.steps), "--defaults-steps", str(a.defaults_steps), "--before", ",".join(a.before) or ",", "--limit", str(a.limit),
             "--kto-eval", str(kto_eval)] + (["--eval-pairs", str(pairs)] if a.limit < 100 else [])
    res, gen, judged = {}, {}, {}
    for side in filter(None, a.only.split(",")):
        folder = out / side.replace(" ", "_")
        done = folder / "result.json"
        if a.reuse and done.is_file():
            res[side] = json.loads(done.read_text())
            continue
        folder.mkdir(parents=True, exist_ok=True)
        res[side] = child(["--one", side, str(folder / "run"), *flags], folder / "log.txt", a.lock)
        done.write_text(json.dumps(res[side]))
        print(f"{side}: {json.dumps(res[side])}", file=sys.stderr, flush=True)
    for side in filter(None, a.score.split(",")):
        folder = out / side.replace(" ", "_")
        model = base_model() if side == "base" else folder / "run" / "final"
        answers, done = folder / "answers.jsonl", folder / "answers.json"
        if not (a.reuse and done.is_file()):
            if side != "base" and not Path(model, "config.json").is_file():
                continue
            folder.mkdir(parents=True, exist_ok=True)
            done.write_text(json.dumps(child(["--gen", str(model), str(answers), "--limit", str(a.limit)],
                                             folder / "gen_log.txt", a.lock)))
        gen[side] = json.loads(done.read_text())
        if side != "base" and "base" in gen:
            judged[side] = judge(read_rows(out / "base" / "answers.jsonl"), read_rows(answers))
    text = tables(res, judged, gen, a)
    print(text)
    if a.md:
        Path(a.md).parent.mkdir(parents=True, exist_ok=True)
        Path(a.md).write_text(f"# bench/real_pref.py\n\n`{shlex.join(sys.argv)}`\n\n{text}\n")


if __name__ == "__main__":
    main()
