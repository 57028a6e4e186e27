"""Real-model SFT: does fine-tuning SmolLM2-135M-Instruct teach it a skill, and what does it cost, beside TRL and LLaMA-Factory.

    mgt env run train -- python bench/real_sft.py [--quick] [--only quality,identity,cost,profile] [--work DIR] [--redo NAMES]
    (the llamafactory env must be built for the LLaMA-Factory side: `mgt env build llamafactory`)

Every training, scoring and profiling run is its own child process, started while this process holds the
flock of /tmp/mgt-heavy.lock (the lock `flock /tmp/mgt-heavy.lock CMD` takes), so heavy jobs of other
sessions never overlap ours and the wall time measured is the child's own. Per child (bench/suite.py's
`measure`: os.wait4 on it and its waited-for descendants): wall, CPU seconds (user + sys) and peak RSS;
inside it, transformers' Trainer.train is wrapped (suite.hook_train; for LLaMA-Factory, in its own env, by
bench/real_sft_hook.py through a sitecustomize on PYTHONPATH): train-phase wall and CPU (all threads).
Each child's result is kept in WORK/results/NAME.json and reused on a re-run unless named in --redo.

Tables (printed and written to bench/results/real_sft.md; with --quick to WORK/real_sft.md):
  quality   held-out exact match on the dates skill (script/examples/real/data, 100 rows, dates never in train,
            two phrasings unseen in train): base vs mgtrainer LoRA vs mgtrainer full fine-tune (and the cost
            table's TRL and LLaMA-Factory models); one scorer for every model (`score`: the base tokenizer's
            chat template with add_generation_prompt, greedy, max_new_tokens 16, left-padded batches of 8,
            strip, compare). Beside it the per-token loss on held-out general instructions (alpaca_en_demo
            rows the skill data never saw): does fine-tuning keep the rest of the model intact.
  identity  LoRA sft on LLaMA-Factory's identity.json with {{name}} = Mgt-Bot, {{author}} = the mgtrainer team
            (substituted at run time into WORK, never into the repo), a seeded 70 / 21 split; the share of
            held-out answers that contain "Mgt-Bot", base vs trained (LoRA, 3 epochs, length-grouped batches).
  cost      one LoRA recipe (r 16, alpha 32, dropout 0.05, all linear layers, lr 2e-3 linear, 1 epoch, batch 16,
            max length 128, loss on the answer only, fp32) through mgtrainer, TRL SFTTrainer (its defaults;
            and its cheapest CPU setting) and LLaMA-Factory (backend: llamafactory, the tokenizer's own template).
  profile   where mgtrainer's sft step spends its time on this model (torch.profiler over a few LoRA steps),
            and the lm_head + cross-entropy over the 49152-way vocabulary timed alone, at every position vs
            at the trained positions only.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from suite import SHARED, TRAINS, env_python, fmt, hook_train, load_line, measure  # noqa: E402

MODEL = Path.home() / ".cache" / "mgtrainer" / "models" / "smollm2-135m-instruct"
REAL = REPO / "script" / "examples" / "real"
RECIPE = REAL / "sft_lora.yaml"  # the working LoRA config: its lora/train settings are the recipe here
IDENTITY = SHARED / "llama-factory" / "identity.json"
LOCK = "/tmp/mgt-heavy.lock"
OUT_MD = REPO / "bench" / "results" / "real_sft.md"
NAME, AUTHOR = "Mgt-Bot", "the mgtrainer team"
FULL_LR = 1e-4  # full fine-tune: 20x below the LoRA rate, inside the usual 5e-5..1e-4 for a model this size
# name -> (full, quick)
SIZES = {"train": (400, 32), "heldout": (100, 8), "id_train": (70, 16), "id_heldout": (21, 6), "general": (16, 4),
         "profile_steps": (4, 2)}
ID_EPOCHS, ID_CUTOFF, ID_NEW = 3, 256, 48  # identity: 70 rows x 3 epochs; answers are longer (Chinese text)
NEW_TOKENS = 16

SIDES = {  # cost table rows: the child that trains, its label
    "mgt_lora": "mgtrainer",
    "trl_default": "TRL SFTTrainer defaults",
    "trl_cheap": "TRL SFTTrainer, cheapest CPU setting",
    "lf_lora": "LLaMA-Factory",
}


NOTES = [
    "- One run per side (the CPU budget of a shared 2-core machine); each child ran alone under the heavy-job lock "
    "(1-minute loadavg 1.7-2.1 at each run's end, mostly the run's own 2 threads). Train-phase CPU-s is time.process_time "
    "inside the process around Trainer.train (all threads); whole-run CPU, wall and peak RSS come from os.wait4 on "
    "the child (interpreter start, imports, tokenising, training, saving final/ with LoRA merged); scoring is a "
    "separate child and is in none of the cost figures.",
    "- Tokens: non-padding input tokens of the train rows as mgtrainer encodes them (prompt + answer, default system "
    "prompt included), the same count for every side; TRL's own tokenisation gave the same total.",
    "- The recipe is script/examples/real/sft_lora.yaml's (LoRA r 16, alpha 32, dropout 0.05, all linear layers, "
    "lr 2e-3 linear decay, no warm-up, AdamW (fused), weight decay 0, max grad norm 1, seed 42, 1 epoch, batch 16, "
    "cutoff 128, fp32), minus its evaluation. mgtrainer trains the answer and its closing <|im_end|>; TRL gets the "
    "rows as prompt-completion conversations (loss on the completion only); LLaMA-Factory (template unset, so it "
    "parses the tokenizer's own chat template, default system prompt included) trains the answer, <|im_end|> and "
    "the newline after it (its log's label_ids).",
    "- TRL defaults: gradient checkpointing on (SFTConfig's default), random batches. TRL's cheapest CPU setting: "
    "gradient checkpointing off and train_sampling_strategy group_by_length, as bench/suite.py found for TRL "
    "(padding_free and bfd packing cost 3-5x more CPU there, since CPU sdpa has no varlen kernel); not re-measured "
    "one by one here.",
    "- LLaMA-Factory runs through `backend: llamafactory` (its own env: transformers 5.6, trl 0.24, peft 0.18.1); its "
    "Trainer.train is timed inside its process (bench/real_sft_hook.py). mgtrainer's translation turns LF's "
    "gradient checkpointing off (train.gradient_checkpointing false).",
    f"- Full fine-tune: lr {FULL_LR:g} (20x below the LoRA rate), otherwise the same recipe.",
    "- General-instruction loss: per-token loss on the last 16 alpaca_en_demo rows (none in the skill data), "
    "rendered with the base tokenizer's template, padded batches of 8; it measures what fine-tuning costs the rest "
    "of the model.",
    f"- Identity: identity.json's 91 rows (75 Chinese, 16 English) with {{{{name}}}} = {NAME} and {{{{author}}}} = "
    f"{AUTHOR}, shuffled with seed 0: 70 train, 21 held out; LoRA as above, 3 epochs, length-grouped batches, "
    "cutoff 256; greedy, 48 new tokens.",
]


def size(name: str, quick: bool) -> int:
    return SIZES[name][int(quick)]


# -- data, made once by a child ---------------------------------------------------------------------

def prepare(work: Path, quick: bool) -> dict:
    """Dates train/held-out files (the shipped files, or their head with --quick), the identity split with
    the placeholders filled in, and the non-padding token counts of the train rows as mgtrainer encodes them."""
    from transformers import AutoTokenizer

    from mgtrainer.data import iter_records
    from mgtrainer.driver.tokenize import encode_chats

    work.mkdir(parents=True, exist_ok=True)
    for name, src in (("train", "dates_sft.jsonl"), ("heldout", "dates_heldout.jsonl")):
        lines = (REAL / "data" / src).read_text().splitlines()
        (work / f"dates_{name}.jsonl").write_text("\n".join(lines[: size(name, quick)]) + "\n")
    rows = json.loads(IDENTITY.read_text().replace("{{name}}", NAME).replace("{{author}}", AUTHOR))
    random.Random(0).shuffle(rows)
    n = size("id_train", quick)
    (work / "identity_train.json").write_text(json.dumps(rows[:n], ensure_ascii=False))
    (work / "identity_heldout.json").write_text(json.dumps(rows[n : n + size("id_heldout", quick)], ensure_ascii=False))
    tok = AutoTokenizer.from_pretrained(MODEL)

    def tokens(path: Path, cutoff: int) -> tuple[int, int, int]:
        enc = encode_chats(tok, list(iter_records(path, kind="chat")), cutoff)
        ids = sum(len(r["input_ids"]) for r in enc.rows)
        trained = sum(sum(x != -100 for x in r["labels"]) for r in enc.rows)
        return ids, trained, enc.truncated

    meta = {"dates_tokens": tokens(work / "dates_train.jsonl", 128),
            "identity_tokens": tokens(work / "identity_train.json", ID_CUTOFF)}
    (work / "meta.json").write_text(json.dumps(meta))
    return meta


def records(path: Path):
    from mgtrainer.data import iter_records

    return list(iter_records(path, kind="chat"))


# -- the one scorer -----------------------------------------------------------------------------------

def score(model_dir: Path, path: Path, new_tokens: int, contains: str | None = None) -> dict:
    """Greedy answers of model_dir to the held-out prompts of `path`, with the base tokenizer (same prompts for
    every model): exact match after strip, or the share that contains `contains`; plus per-row outputs."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mgtrainer.driver.generate import generate, prompts_and_references

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.generation_config.eos_token_id = tok.eos_token_id  # stop at <|im_end|> whatever the saved config says
    recs = records(path)
    prompts, refs = prompts_and_references(tok, recs, len(recs))
    outs = generate(model, tok, prompts, new_tokens)
    hits = [(contains in o) if contains else o.strip() == r.strip() for o, r in zip(outs, refs)]
    users = [next(m.content for m in rec.messages if m.role == "user") for rec in recs]
    return {"score": sum(hits) / len(hits), "n": len(hits), "hits": hits, "outputs": outs, "prompts": users}


def general_loss(model_dir: Path, quick: bool) -> float:
    """Per-token loss on held-out general instructions (the last alpaca_en_demo rows; padded batches of 8)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mgtrainer.driver.tokenize import encode_chats
    from sft_throughput import per_token_loss, records as alpaca

    n = size("general", quick)
    rows = encode_chats(AutoTokenizer.from_pretrained(MODEL), alpaca(999)[-n:], 512).rows
    batches = [list(range(i, min(i + 8, len(rows)))) for i in range(0, len(rows), 8)]
    return per_token_loss(MODEL, rows, batches, model=AutoModelForCausalLM.from_pretrained(model_dir))


def phrasing(prompt: str) -> str:
    return re.sub(r"\d{4}-\d{2}-\d{2}", "<date>", prompt)


# -- training sides -------------------------------------------------------------------------------------

def mgt_cfg(work: Path, out: Path, full: bool = False, identity: bool = False, backend: str = "native") -> dict:
    """sft_lora.yaml with the run's data and output folder, no eval data and no evaluation (every model is scored
    afterwards, the same way), no checkpoints; full: finetuning_type full at FULL_LR."""
    import yaml

    cfg = yaml.safe_load(RECIPE.read_text())
    cfg["backend"] = backend
    cfg["model"]["name_or_path"] = str(MODEL)  # a path: the LLaMA-Factory side passes it on as it is
    cfg["data"] = {"train": [str(work / ("identity_train.json" if identity else "dates_train.jsonl"))],
                   "cutoff_len": ID_CUTOFF if identity else cfg["data"]["cutoff_len"]}
    cfg["train"].update(output_dir=str(out), save_strategy="no", report_to="none", eval_strategy="no")
    for key in ("save_steps", "eval_steps"):
        cfg["train"].pop(key, None)
    cfg["lora"].setdefault("dropout", 0.05)  # mgtrainer's default, spelled out for the TRL side to read
    if identity:  # a quality check, not a cost side: length-grouped batches (rows are 60-250 tokens)
        cfg["train"].update(num_train_epochs=ID_EPOCHS, group_by_length=True)
    if full:
        cfg["lora"] = {"finetuning_type": "full"}
        cfg["train"]["learning_rate"] = FULL_LR
    cfg.pop("eval", None)
    return cfg


def train_mgt(work: Path, out: Path, **kw) -> dict:
    from mgtrainer.app import runs
    from mgtrainer.config import load_config

    runs.train(load_config(mgt_cfg(work, out, **kw)))
    return {"model": str(out / "final")}


def train_trl(work: Path, out: Path, cheap: bool) -> dict:
    """TRL SFTTrainer on the same rows as prompt-completion conversations (TRL then trains the completion
    only), the recipe's LoRA and optimiser settings, fp32; cheap: gradient checkpointing off (TRL's default
    is on) and length-grouped batches (bench/suite.py: TRL's cheapest CPU setting; padding_free, which needs a
    varlen kernel, and bfd packing cost 3-5x more there). The merged model is saved for the scorer."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from mgtrainer.driver.tokenize import message_dicts

    cfg = mgt_cfg(work, out)
    t, lora = cfg["train"], cfg["lora"]
    rows = [message_dicts(r.messages) for r in records(Path(cfg["data"]["train"][0]))]
    ds = Dataset.from_list([{"prompt": m[:-1], "completion": m[-1:]} for m in rows])
    setting = {"gradient_checkpointing": False, "train_sampling_strategy": "group_by_length"} if cheap else {}
    args = SFTConfig(output_dir=str(out), num_train_epochs=t["num_train_epochs"], learning_rate=t["learning_rate"],
                     per_device_train_batch_size=t["per_device_train_batch_size"], max_length=cfg["data"]["cutoff_len"],
                     logging_steps=t["logging_steps"], save_strategy="no", report_to="none", use_cpu=True, bf16=False,
                     seed=42, **setting)
    peft = LoraConfig(r=lora["rank"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                      target_modules="all-linear", task_type="CAUSAL_LM")
    tok = AutoTokenizer.from_pretrained(MODEL)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32), args=args,
                         train_dataset=ds, processing_class=tok, peft_config=peft)
    trainer.train()
    merged = trainer.model.merge_and_unload()
    merged.save_pretrained(out / "final")
    tok.save_pretrained(out / "final")
    trl_tokens = sum(map(len, trainer.train_dataset["input_ids"]))
    return {"model": str(out / "final"), "trl_tokens": trl_tokens, "gradient_checkpointing": args.gradient_checkpointing,
            "sampling": args.train_sampling_strategy}


def train_lf(work: Path, out: Path) -> dict:
    """LLaMA-Factory through `mgtrainer train` with backend: llamafactory (its own env and trainer; template
    unset, so LF parses the tokenizer's chat template, default system prompt included). Its Trainer.train is
    timed inside its process by bench/real_sft_hook.py."""
    import yaml

    cfg = out.parent / f"{out.name}.yaml"
    cfg.write_text(yaml.safe_dump(mgt_cfg(work, out, backend="llamafactory")))
    hook = work / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(
        "import importlib.util as u\n"
        f"s = u.spec_from_file_location('real_sft_hook', {str(REPO / 'bench' / 'real_sft_hook.py')!r})\n"
        "s.loader.exec_module(u.module_from_spec(s))\n")
    trains = out.parent / f"{out.name}.trains.jsonl"
    trains.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONPATH=str(hook), REAL_SFT_TRAINS=str(trains))
    proc = subprocess.run([sys.executable, "-P", "-m", "mgtrainer", "train", str(cfg)], env=env)
    if proc.returncode:
        raise SystemExit(f"LLaMA-Factory run failed ({proc.returncode})")
    seen = [json.loads(x) for x in trains.read_text().splitlines()] if trains.exists() else []
    if not seen:
        raise SystemExit(f"no Trainer.train call was seen in LLaMA-Factory's process ({trains})")
    TRAINS.append(seen[-1])
    return {"model": str(out / "final")}


# -- profile --------------------------------------------------------------------------------------------

VOCAB = 49152


def profile(work: Path, out: Path, quick: bool) -> dict:
    """mgtrainer's LoRA sft (the cost side's config) for a few steps: torch.profiler over every step but the
    first (warm-up), op self time split into lm_head + cross-entropy (ops on a 49152-wide tensor, embedding
    lookups apart), optimizer, and the rest (the body); then the head alone on the last batch, fwd + bwd,
    over every position vs the trained positions only."""
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile
    from transformers import Trainer

    from mgtrainer.app import runs
    from mgtrainer.config import load_config

    steps, state = size("profile_steps", quick), {"n": 0, "walls": [], "batch": None, "model": None}
    prof = torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True)
    original_step, original_train = Trainer.training_step, Trainer.train

    def training_step(self, model, inputs, *a, **kw):
        state["n"] += 1
        if state["n"] == 2:
            prof.start()
            state["t0"] = time.perf_counter()
        start = time.perf_counter()
        loss = original_step(self, model, inputs, *a, **kw)
        state["walls"].append(time.perf_counter() - start)
        state["batch"], state["model"] = inputs, model
        return loss

    def train(self, *a, **kw):
        result = original_train(self, *a, **kw)
        if state["n"] >= 2:
            prof.stop()
            state["span"] = time.perf_counter() - state["t0"]
        return result

    Trainer.training_step, Trainer.train = training_step, train
    cfg = mgt_cfg(work, out)
    cfg["train"].update(max_steps=steps, logging_steps=1)
    runs.train(load_config(cfg))

    cats: dict[str, float] = {}
    ops: dict[str, float] = {}
    for evt in prof.events():
        cat = category(evt)
        cats[cat] = cats.get(cat, 0.0) + evt.self_cpu_time_total / 1e6
        if cat == "lm_head + cross-entropy":
            ops[evt.name] = ops.get(evt.name, 0.0) + evt.self_cpu_time_total / 1e6
    batch, model = state["batch"], state["model"]
    head = head_timing(model, batch)
    labels = batch["labels"]
    return {"steps_profiled": steps - 1, "span_s": state["span"], "categories": cats,
            "vocab_ops": dict(sorted(ops.items(), key=lambda kv: -kv[1])[:8]),
            "training_step_s": state["walls"][1:], "batch_shape": list(labels.shape),
            "positions": int(labels[:, 1:].numel()), "trained": int((labels[:, 1:] != -100).sum()),
            "head": head, "threads": torch.get_num_threads(), "driver_diff": driver_diff()}


def category(evt) -> str:
    parent = evt.cpu_parent
    while parent is not None:
        if parent.name.startswith("Optimizer."):
            return "optimizer"
        parent = parent.cpu_parent
    if evt.name.startswith("Optimizer."):
        return "optimizer"
    if "embedding" in evt.name:
        return "embedding"
    shapes = evt.input_shapes or []
    if any(isinstance(s, (list, tuple)) and VOCAB in s for s in shapes):
        return "lm_head + cross-entropy"
    return "body (layers, LoRA, norms, rest)"


def head_timing(model, batch, reps: int = 5) -> dict:
    """lm_head + the causal shift + fp32 cross-entropy, forward and backward, on the last hidden states of
    `batch` (computed once, no grad): at every position as the model's loss does, and at the trained ones."""
    import torch
    import torch.nn.functional as F

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    model.eval()
    with torch.no_grad():
        hidden = base.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    head = base.get_output_embeddings()

    def every():
        h = hidden[:, :-1].detach().requires_grad_()
        loss = F.cross_entropy(head(h).float().flatten(0, 1), labels.flatten(), ignore_index=-100)
        loss.backward()

    def trained():
        h = hidden[:, :-1].detach().requires_grad_()
        loss = F.cross_entropy(head(h[mask]).float(), labels[mask])
        loss.backward()

    out = {}
    for name, fn in (("every position", every), ("trained positions", trained)):
        fn()  # warm-up
        walls, cpus = [], []
        for _ in range(reps):
            w, c = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
        out[name] = {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus)}
    return out


def driver_diff() -> str:
    """What the working tree's mgtrainer/ differs in from HEAD at the time of the profile (another session
    may be changing the driver)."""
    proc = subprocess.run(["git", "diff", "--stat", "HEAD", "--", "mgtrainer/"], cwd=REPO, capture_output=True,
                          text=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return f"HEAD {head.stdout.strip()}; " + (proc.stdout.strip().splitlines()[-1] if proc.stdout.strip()
                                             else "mgtrainer/ unchanged from HEAD")


# -- one child ------------------------------------------------------------------------------------------

def child(name: str, work: Path, quick: bool) -> dict:
    """name: prepare | train:<side> | scores (the jobs of WORK/scores_todo.json) | profile."""
    if name == "prepare":
        return prepare(work, quick)
    if name == "profile":
        return profile(work, work / "runs" / "profile", quick)
    if name == "scores":
        return {"results": [score_job(job, work, quick) for job in json.loads((work / "scores_todo.json").read_text())]}
    side = name.split(":", 1)[1]
    out = work / "runs" / side
    hook_train()
    result = {"mgt_lora": lambda: train_mgt(work, out),
              "mgt_full": lambda: train_mgt(work, out, full=True),
              "mgt_identity": lambda: train_mgt(work, out, identity=True),
              "trl_default": lambda: train_trl(work, out, cheap=False),
              "trl_cheap": lambda: train_trl(work, out, cheap=True),
              "lf_lora": lambda: train_lf(work, out)}[side]()
    if not TRAINS:
        raise SystemExit(f"{name}: no Trainer.train call was seen")
    return {**result, **TRAINS[-1]}


def score_job(job: str, work: Path, quick: bool) -> dict:
    """score:identity:DIR (share naming Mgt-Bot), score:dates:DIR (exact match), score:quality:DIR (exact match
    and the general-instruction loss)."""
    _, what, model_dir = job.split(":", 2)
    if what == "identity":
        return score(Path(model_dir), work / "identity_heldout.json", ID_NEW, contains=NAME)
    got = score(Path(model_dir), work / "dates_heldout.jsonl", NEW_TOKENS)
    return got | {"general_loss": general_loss(Path(model_dir), quick)} if what == "quality" else got


# -- the parent -------------------------------------------------------------------------------------------

class Runner:
    """Runs children one at a time under the heavy-job lock, results cached in WORK/results. The lock is kept
    across consecutive children for up to HOLD_S seconds, then given back (and taken again) so other sessions'
    heavy jobs get their turn; the time spent waiting for it is not in any measurement."""

    HOLD_S = 600

    def __init__(self, work: Path, quick: bool, redo: set[str]):
        self.work, self.quick, self.redo = work, quick, redo
        self.lock, self.since, self.spent = None, 0.0, 0.0
        (work / "results").mkdir(parents=True, exist_ok=True)
        (work / "runs").mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.work / "results" / f"{name.replace('/', '_').replace(':', '-')}.json"

    def cached(self, name: str) -> dict | None:
        kinds = {name, ":".join(name.split(":")[:2]), "all"}  # e.g. score:dates:/x, score:dates, all
        path = self.path(name)
        return json.loads(path.read_text()) if path.exists() and not kinds & self.redo else None

    def hold(self) -> float:
        """Take the lock (or keep it, if held for less than HOLD_S); the seconds spent waiting."""
        if self.lock and time.perf_counter() - self.since > self.HOLD_S:
            self.release()
            time.sleep(3)  # let a waiting session in
        if self.lock:
            return 0.0
        self.lock, waited = open(LOCK, "a"), time.perf_counter()
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.since = time.perf_counter()
        return self.since - waited

    def release(self) -> None:
        if self.lock:
            self.lock.close()  # closing the only descriptor drops the flock
            self.lock = None

    def __call__(self, name: str, cache: bool = True) -> dict | None:
        if cache and (got := self.cached(name)) is not None:
            return got
        log = self.path(name).with_suffix(".log")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", name, "--work", str(self.work)]
        cmd += ["--quick"] * self.quick
        waited = self.hold()
        got = measure(cmd, log)
        got["lock_wait_s"], got["load_after"] = waited, os.getloadavg()
        self.spent += got["wall"]
        if got["code"] != 0:
            print(f"  {name}: exit {got['code']} (log {log})\n{log.read_text()[-2500:]}", file=sys.stderr, flush=True)
            return None
        text = log.read_text()
        got.update(json.loads(text.rsplit("RESULT ", 1)[1].splitlines()[0]))
        if cache:
            self.path(name).write_text(json.dumps(got))
        print(f"  {name}: wall {got['wall']:.1f} s, CPU {got['cpu']:.1f} s, peak RSS {got['rss_mib']:.0f} MiB"
              f" (waited {waited:.0f} s for the lock)", file=sys.stderr, flush=True)
        return got

    def scores(self, jobs: list[str]) -> dict[str, dict]:
        """Every score job (score:KIND:MODEL) not cached yet, in one child (one model load each, no repeated
        start-up); their results."""
        todo = [j for j in jobs if self.cached(j) is None]
        if todo:
            (self.work / "scores_todo.json").write_text(json.dumps(todo))
            got = self("scores", cache=False)
            for job, result in zip(todo, (got or {}).get("results", [])):
                self.path(job).write_text(json.dumps(result))
        return {j: self.cached(j) for j in jobs}


def per_k(got: dict | None, tokens: int) -> float | None:
    return 1000 * got["train_cpu"] / tokens if got and got.get("train_cpu") else None


def em_cell(s: dict | None) -> str:
    return "n/a" if not s else f"{s['score']:.2f} ({sum(s['hits'])}/{s['n']})"


def split_em(s: dict | None, seen: set[str]) -> tuple[str, str]:
    """Exact match on held-out prompts whose phrasing is in train, and on the unseen phrasings."""
    if not s:
        return "n/a", "n/a"
    parts = []
    for want in (True, False):
        hits = [h for h, p in zip(s["hits"], s["prompts"]) if (phrasing(p) in seen) == want]
        parts.append(f"{sum(hits)}/{len(hits)}" if hits else "n/a")
    return parts[0], parts[1]


def quality_table(work: Path, models: dict[str, str | None], got: dict[str, dict]) -> list[str]:
    seen = {phrasing(r.messages[0].content) for r in records(work / "dates_train.jsonl")}
    lines = ["| model | held-out exact match | prompts phrased as in train | unseen phrasings | general-instruction "
             "loss (held-out alpaca rows, lower is better) |", "|---|---|---|---|---|"]
    for label, model in models.items():
        s = got.get(f"score:quality:{model}") if model else None
        a, b = split_em(s, seen)
        lines.append(f"| {label} | {em_cell(s)} | {a} | {b} | {fmt(s and s.get('general_loss'), '.4f')} |")
    return lines


def identity_table(models: dict[str, str | None], got: dict[str, dict]) -> tuple[list[str], list[str]]:
    lines = [f'| model | held-out answers containing "{NAME}" | Chinese prompts | English prompts |', "|---|---|---|---|"]
    samples = []
    for label, model in models.items():
        s = got.get(f"score:identity:{model}") if model else None
        if not s:
            lines.append(f"| {label} | n/a | n/a | n/a |")
            continue
        zh = [h for h, p in zip(s["hits"], s["prompts"]) if re.search(r"[\u4e00-\u9fff]", p)]
        en = [h for h, p in zip(s["hits"], s["prompts"]) if not re.search(r"[\u4e00-\u9fff]", p)]
        lines.append(f"| {label} | {em_cell(s)} | {sum(zh)}/{len(zh)} | {sum(en)}/{len(en)} |")
        samples += [f"- {label}: {p!r} -> {o!r}" for p, o in list(zip(s["prompts"], s["outputs"]))[:3]]
    return lines, samples


def cost_table(sides: dict[str, dict | None], got: dict[str, dict], tokens: int) -> list[str]:
    base = per_k(sides.get("mgt_lora"), tokens)
    lines = ["| side | held-out exact match | steps | train loss | train-phase CPU-s / 1k tokens | ratio vs mgtrainer | "
             "train-phase wall s | whole-run CPU s | whole-run wall s | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for side, label in SIDES.items():
        run = sides.get(side)
        if not run:
            lines.append(f"| {label} | not run | | | | | | | | |")
            continue
        s = got.get(f"score:quality:{run['model']}") or got.get(f"score:dates:{run['model']}")
        k = per_k(run, tokens)
        lines.append(f"| {label} | {em_cell(s)} | {run.get('steps')} | {fmt(run.get('train_loss'), '.4f')} | {fmt(k)} | "
                     f"{fmt(k / base if k and base else None, '.2f')} | {fmt(run.get('train_s'), '.1f')} | "
                     f"{fmt(run['cpu'], '.1f')} | {fmt(run['wall'], '.1f')} | {fmt(run['rss_mib'], '.0f')} |")
    return lines


def profile_lines(p: dict) -> list[str]:
    total = sum(p["categories"].values())
    lines = [f"torch.profiler, {p['steps_profiled']} LoRA steps after a warm-up step (batch {p['batch_shape'][0]} rows "
             f"x {p['batch_shape'][1]} tokens, {p['threads']} torch threads; {p['driver_diff']}): op self time "
             f"{total:.2f} s of a {p['span_s']:.2f} s span; training_step (fwd + bwd) "
             f"{', '.join(f'{x:.2f}' for x in p['training_step_s'])} s.", "",
             "| part | op self time s | share |", "|---|---|---|"]
    for cat, sec in sorted(p["categories"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {cat} | {sec:.2f} | {100 * sec / total:.1f}% |")
    lines += ["", "Largest lm_head / cross-entropy ops (self time s): " +
              ", ".join(f"{k} {v:.2f}" for k, v in p["vocab_ops"].items()), "",
              f"The head alone on the last batch (forward + backward, hidden states given; median of 5): "
              f"{p['positions']} positions, {p['trained']} of them trained.", "",
              "| lm_head + cross-entropy over | wall s | CPU s |", "|---|---|---|"]
    for name, t in p["head"].items():
        lines.append(f"| {name} | {t['wall_s']:.3f} | {t['cpu_s']:.3f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few rows and steps: the whole run in minutes")
    ap.add_argument("--only", default="quality,identity,cost,profile")
    ap.add_argument("--skip", default="", help="comma-separated train sides to leave out, e.g. lf_lora,mgt_full")
    ap.add_argument("--work", help="work folder (default /tmp/real_sft/work or /tmp/real_sft/quick)")
    ap.add_argument("--redo", default="", help="comma-separated results to recompute (e.g. train:lf_lora, all)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work or f"/tmp/real_sft/{'quick' if args.quick else 'work'}")
    if args.one:
        print("RESULT " + json.dumps(child(args.one, work, args.quick)))
        return
    only, skip = set(args.only.split(",")), set(filter(None, args.skip.split(",")))
    run = Runner(work, args.quick, set(filter(None, args.redo.split(","))))
    before, started = load_line(), time.perf_counter()
    meta = run("prepare")
    tokens, trained_tokens, truncated = meta["dates_tokens"]
    want = [s for s in ("mgt_lora", "trl_default", "trl_cheap", "lf_lora") if "cost" in only] + \
           ["mgt_lora", "mgt_full"] * ("quality" in only) + ["mgt_identity"] * ("identity" in only)
    if "lf_lora" in want and env_python("llamafactory") is None:
        skip.add("lf_lora")
        print("LLaMA-Factory side skipped: its env is not built (`mgt env build llamafactory`)", file=sys.stderr)
    trained = {side: run(f"train:{side}") for side in dict.fromkeys(want) if side not in skip}
    path = {side: (trained.get(side) or {}).get("model") for side in want}
    quality = {"base (SmolLM2-135M-Instruct)": str(MODEL), "mgtrainer LoRA (lr 2e-3)": path.get("mgt_lora"),
               f"mgtrainer full fine-tune (lr {FULL_LR:g})": path.get("mgt_full")}
    identity = {"base (SmolLM2-135M-Instruct)": str(MODEL),
                f"mgtrainer LoRA on identity ({size('id_train', args.quick)} rows x {ID_EPOCHS} epochs)":
                    path.get("mgt_identity")}
    jobs = [f"score:quality:{m}" for m in quality.values() if m] * ("quality" in only) + \
           [f"score:identity:{m}" for m in identity.values() if m] * ("identity" in only) + \
           [f"score:dates:{path[s]}" for s in SIDES if path.get(s) and path[s] not in quality.values()] * ("cost" in only)
    got = run.scores(jobs)
    prof = run("profile") if "profile" in only else None
    run.release()
    md = [f"# Real-model SFT: SmolLM2-135M-Instruct ({'quick sizes' if args.quick else 'full sizes'})", "",
          f"`mgt env run train -- python bench/real_sft.py {' '.join(sys.argv[1:])}` (results of earlier invocations "
          f"are reused from {work}/results); {os.cpu_count()} CPUs; before: {before}", ""]
    if "quality" in only:
        md += ["## Quality: the dates skill, held-out, greedy", ""] + quality_table(work, quality, got) + [""]
    if "identity" in only:
        lines, samples = identity_table(identity, got)
        md += ["## Identity: LLaMA-Factory's identity.json, held-out paraphrases", ""] + lines + ["", "Samples:", ""] + \
            samples + [""]
    if "cost" in only:
        md += ["## Cost: one LoRA recipe, four ways (one run each)", "",
               f"Units: {tokens} non-padding input tokens of the {size('train', args.quick)} train rows as mgtrainer "
               f"encodes them (chat template with its default system prompt, cutoff 128, {truncated} rows cut; "
               f"{trained_tokens} of them trained), the same rows for every side.", ""] + \
            cost_table({s: trained.get(s) for s in SIDES}, got, tokens) + [""]
        md += [f"- {SIDES[s]}: TRL tokenised {trained[s]['trl_tokens']} tokens; gradient_checkpointing "
               f"{trained[s]['gradient_checkpointing']}, sampling {trained[s]['sampling']}"
               for s in ("trl_default", "trl_cheap") if trained.get(s)] + [""]
    if prof:
        md += ["## Profile: mgtrainer's LoRA sft step on this model", ""] + profile_lines(prof) + [""]
        step = trained.get("mgt_lora")
        if step and step.get("steps"):
            per, head = step["train_s"] / step["steps"], prof["head"]
            every, kept = head["every position"]["wall_s"], head["trained positions"]["wall_s"]
            md += [f"The cost side's mgtrainer run averaged {per:.2f} s a step (train-phase wall / steps). The head at "
                   f"every position would add {every - kept:.2f} s to that: {100 * every / (per - kept + every):.0f}% "
                   f"of such a step, against {100 * kept / per:.0f}% for the trained positions only.", ""]
    md += ["## Notes", ""] + NOTES + [""]
    md += [f"after: {load_line()}; {time.perf_counter() - started:.0f} s in all, {run.spent:.0f} s of them in children "
           f"run by this invocation (the others' results reused); work folder {work}"]
    text = "\n".join(md) + "\n"
    print(text)
    target = work / "real_sft.md" if args.quick else OUT_MD  # quick runs stay out of the repo
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


if __name__ == "__main__":
    main()
