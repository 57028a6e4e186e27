"""LLaMA-Factory as a training backend, run in its own env (env/llamafactory, built on demand).

    mgtrainer train --llamafactory LF.yaml [key=value ...]   LF's own YAML, passed through
    mgtrainer train cfg.yaml   (with backend: llamafactory)    our RunConfig, translated (lf_config)

Both write the LF arguments to OUTPUT_DIR/llamafactory_args.yaml, check resume_from_checkpoint before
launch (lf_config.check_resume), run `llamafactory-cli train` with logs streaming through and its exit
code returned, then finalize OUTPUT_DIR in the same env (lf_finalize: metrics.jsonl, final/ with LoRA
merged unless `merge: false`, final/mgtrainer.json) so `mgtrainer serve` / `predict` work on it.
Datasets given as files in any format mgtrainer.data reads are converted and registered in a generated
OUTPUT_DIR/lf_data/dataset_info.json. This module imports no torch.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from mgtrainer import atomic
from mgtrainer.backends import lf_config, lf_data
from mgtrainer.driver import rundir
from mgtrainer.driver.model import resolve_model
from mgtrainer.errors import MgtError

PROFILE = "llamafactory"
ARGS_FILE = "llamafactory_args.yaml"
DATA_DIR = "lf_data"
OWN_KEYS = {"merge": True}  # mgtrainer-only keys accepted in an LF YAML / overrides, popped before launch


def train(lf_yaml: str | Path | None = None, cfg=None, overrides=(), nproc: int | None = None) -> int:
    """Run LLaMA-Factory from an LF YAML (+ overrides) or from a RunConfig / config path; the exit code.
    nproc (--nproc-per-node) runs LF's own torchrun launch with that many processes (launch_env).

    Also accepts train(run_config, overrides) (overrides already applied) and train(lf_yaml, overrides)."""
    lf_yaml, cfg, overrides = _call_forms(lf_yaml, cfg, list(overrides))
    if lf_yaml:
        args, spec, where = from_lf_yaml(Path(lf_yaml), overrides)
    else:
        args, spec, where = from_run_config(cfg, overrides)
    args["output_dir"] = spec["output_dir"] = str(Path(args["output_dir"]).expanduser().resolve())
    args = lf_config.check_resume(args, where, fresh=not lf_yaml)
    out = Path(args["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(args.get("deepspeed"), dict):  # train.deepspeed given inline: LF reads a file
        args["deepspeed"] = str(write_json(args["deepspeed"], out / "ds_config.json"))
    code = launch(write_yaml(args, out / ARGS_FILE), launch_env(args, nproc))
    if code != 0:
        print(f"mgtrainer: llamafactory-cli train exited with {code}", file=sys.stderr)
        return code
    return finalize(spec)


def _call_forms(lf_yaml, cfg, overrides: list) -> tuple:
    """(lf_yaml, cfg, overrides) from the ways the CLI and the driver call train()."""
    if hasattr(lf_yaml, "task") and hasattr(lf_yaml, "train"):  # train(RunConfig, overrides): already applied
        return None, lf_yaml, []
    if isinstance(cfg, (list, tuple)) and not overrides:  # train(lf_yaml, overrides)
        cfg, overrides = None, list(cfg)
    if lf_yaml and isinstance(cfg, str) and "=" in cfg and not Path(cfg).exists():
        cfg, overrides = None, [cfg, *overrides]  # argparse put the first override in the config slot
    if lf_yaml and cfg is not None:
        raise MgtError(f"{cfg}:1: a config and --llamafactory {lf_yaml} were both given (config); expected one")
    if not lf_yaml and cfg is None:
        raise MgtError("<command line>:1: nothing to train (config); expected a config or --llamafactory LF.yaml")
    return lf_yaml, cfg, overrides


# -- LF YAML passthrough ---------------------------------------------------------------------------

def read_yaml(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise MgtError(f"{path}:1: no such file (--llamafactory); expected a LLaMA-Factory YAML config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", 0) + 1
        raise MgtError(f"{path}:{line}: invalid YAML ({getattr(err, 'problem', err)}); expected key: value lines") from None
    if not isinstance(data, dict):
        raise MgtError(f"{path}:1: not a mapping (file); expected LLaMA-Factory's flat key: value arguments")
    return data


def apply_overrides(args: dict, overrides: list[str]) -> dict:
    from mgtrainer.config import parse_value

    for text in overrides:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise MgtError(f"override '{text}':1: not key=value (override); expected e.g. max_steps=10")
        args[key.strip()] = parse_value(value)
    return args


LF_PATHS = ("model_name_or_path", "adapter_name_or_path", "output_dir", "dataset_dir", "media_dir", "tokenized_path",
            "deepspeed", "resume_from_checkpoint", "dataset", "eval_dataset")


def expand_paths(args: dict, where: str) -> dict:
    """~ and $VAR in an LLaMA-Factory YAML's paths, expanded as in mgtrainer's own configs (config.sections.expand)."""
    from mgtrainer.config.sections import expand

    for key in (k for k in LF_PATHS if isinstance(args.get(k), str)):
        try:
            args[key] = ",".join(expand(part) for part in args[key].split(",")) if "dataset" in key else expand(args[key])
        except ValueError as err:
            raise MgtError(f"{where}: {key} = {args[key]!r}: {err}") from None
    return args


def from_lf_yaml(path: Path, overrides: list[str]) -> tuple[dict, dict, str]:
    where = f"{path}:1"
    args = expand_paths(apply_overrides(read_yaml(path), overrides), where)
    own = {key: args.pop(key, default) for key, default in OWN_KEYS.items()}
    for key in ("model_name_or_path", "output_dir"):
        if not args.get(key):
            raise MgtError(f"{where}: missing {key} ({key}); expected it in the YAML or as {key}=... ")
    rundir.hold(Path(str(args["output_dir"])).expanduser())  # before anything is written into it
    stage = args.get("stage", "sft")
    if stage not in lf_config.STAGES:
        raise MgtError(f"{where}: stage '{stage}' (stage); expected one of {', '.join(lf_config.STAGES)}")
    register_files(args, lf_config.STAGES[stage], where)
    if args.get("deepspeed"):  # our preset names work here too; a path is made absolute
        args["deepspeed"] = lf_config.deepspeed_value(args["deepspeed"])
    spec = {"base_model": str(args["model_name_or_path"]), "stage": stage, "merge": bool(own["merge"]),
            "finetuning_type": args.get("finetuning_type", "lora"), "cutoff_len": args.get("cutoff_len", 2048),
            "template": args.get("template"), "trust_remote_code": bool(args.get("trust_remote_code", False))}
    return args, spec, where


def _names(value) -> list[str]:
    if value is None:
        return []
    return [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v) for v in value]


def register_files(args: dict, kind: str, where: str) -> None:
    """Dataset entries that are files (any format mgtrainer.data reads) instead of names registered in
    dataset_dir/dataset_info.json: convert them into OUTPUT_DIR/lf_data and register them there, next
    to the original registry's entries (made absolute), and point dataset_dir at it."""
    from mgtrainer.data import iter_records
    from mgtrainer.data.registry import load_info

    base = Path(str(args.get("dataset_dir") or "data"))
    info = load_info(base)
    files = [n for key in ("dataset", "eval_dataset") for n in _names(args.get(key)) if n not in info]
    missing = [n for n in files if not Path(n).exists()]
    if missing:
        raise MgtError(f"{where}: dataset '{missing[0]}' is neither in {base / 'dataset_info.json'} nor a file "
                       "(dataset); expected a registered name or a data file path")
    if not files:
        return
    folder = Path(args["output_dir"]) / DATA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    entries = {n: {**e, "file_name": str((base / e["file_name"]).resolve())} for n, e in info.items() if "file_name" in e}
    renamed = {}
    for i, name in enumerate(dict.fromkeys(files)):
        records = list(iter_records(name, kind=kind))
        renamed[name] = f"mgt_file_{i}"
        lf_data.write_jsonl((lf_data.lf_row(r) for r in records), folder / f"{renamed[name]}.jsonl")
        entries[renamed[name]] = {"file_name": f"{renamed[name]}.jsonl", **lf_data.ENTRIES[records[0].kind]}
    write_json(entries, folder / "dataset_info.json")
    for key in ("dataset", "eval_dataset"):
        if args.get(key):
            args[key] = ",".join(renamed.get(n, n) for n in _names(args[key]))
    args["dataset_dir"] = str(folder)


# -- RunConfig translation -------------------------------------------------------------------------

def from_run_config(cfg, overrides: list[str]) -> tuple[dict, dict, str]:
    from mgtrainer.config import RunConfig, load_config
    from mgtrainer.data import load_splits

    if not isinstance(cfg, RunConfig):
        cfg = load_config(cfg, overrides)
    where = f"{cfg.source or '<config>'}:1"
    stage = lf_config.stage_of(cfg)
    if cfg.data.streaming:  # the rows are selected and written for LLaMA-Factory: that is a full read
        raise MgtError(f"{where}: data.streaming is not supported with backend: llamafactory (mgtrainer writes "
                       "the selected rows for it); expected backend: native (streams pt and sft), or LLaMA-Factory's "
                       "own streaming through `mgtrainer train --llamafactory LF.yaml` with streaming: true")
    if cfg.data.packed:
        raise MgtError(f"{where}: data.packed (tokenized_path) holds mgtrainer's own cache, which LLaMA-Factory "
                       "cannot read (data.packed); expected backend: native, or LF's own tokenized_path through "
                       "`mgtrainer train --llamafactory LF.yaml`")
    resolve_model(cfg.model.name_or_path)  # a packaged model not fetched yet: said before any data is read
    splits = load_splits(cfg.data, lf_config.STAGES[stage])
    out = rundir.hold(cfg.train.output_dir)  # before anything is written into it
    train_name, eval_name = lf_data.write_dataset_dir(out / DATA_DIR, lf_config.STAGES[stage], splits.train, splits.eval)
    args, notes = lf_config.to_lf_args(cfg, (out / DATA_DIR).resolve(), train_name, eval_name)
    for note in notes:
        print(f"mgtrainer: note: {note}", file=sys.stderr)
    spec = {"base_model": cfg.model.name_or_path, "stage": stage, "merge": cfg.lora.merge,
            "finetuning_type": cfg.lora.finetuning_type, "cutoff_len": cfg.data.cutoff_len,
            "template": cfg.model.template, "trust_remote_code": cfg.model.trust_remote_code}
    return args, spec, where


# -- running in the llamafactory env ---------------------------------------------------------------

def write_yaml(args: dict, path: Path) -> Path:
    import yaml

    return atomic.write_text(path, yaml.safe_dump(args, sort_keys=False, allow_unicode=True))


def write_json(data, path: Path) -> Path:
    return atomic.write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def launch_env(args: dict, nproc: int | None) -> dict[str, str]:
    """The variables LF's launcher reads: DeepSpeed (or --nproc-per-node N) needs its torchrun launch,
    FORCE_TORCHRUN=1 (LF refuses `deepspeed:` otherwise), with NPROC_PER_NODE=N (without it LF starts one
    process per GPU; on CPU that is none, so --nproc-per-node is needed there)."""
    out = {}
    if nproc or args.get("deepspeed"):
        out["FORCE_TORCHRUN"] = "1"
    if nproc:
        out["NPROC_PER_NODE"] = str(nproc)
    return out


def launch(yaml_path: Path, extra_env: dict[str, str] | None = None) -> int:
    """`llamafactory-cli train YAML` in the llamafactory env (built on demand), with extra_env set; its
    exit code."""
    from mgtrainer import env

    shown = " ".join(f"{k}={v}" for k, v in (extra_env or {}).items())
    print(f"mgtrainer: {shown + ' ' if shown else ''}llamafactory-cli train {yaml_path}", file=sys.stderr, flush=True)
    saved = {k: os.environ.get(k) for k in extra_env or {}}
    os.environ.update(extra_env or {})
    try:
        return env.run(PROFILE, ["llamafactory-cli", "train", str(yaml_path)])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def finalize(spec: dict) -> int:
    """metrics.jsonl, final/ and its manifest, computed in the llamafactory env (it has torch + peft)."""
    from mgtrainer import env

    out = spec["output_dir"]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        code = env.run(PROFILE, ["python", "-m", "mgtrainer.backends.lf_finalize", f.name])
    finally:
        os.unlink(f.name)
    if code != 0:
        print(f"mgtrainer: finalizing {out} failed (exit {code})", file=sys.stderr)
    return code
