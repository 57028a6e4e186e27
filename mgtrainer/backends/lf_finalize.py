"""Run inside the llamafactory env after `llamafactory-cli train`: make OUTPUT_DIR look like a native run.

    python -m mgtrainer.backends.lf_finalize SPEC.json

SPEC: {"output_dir", "base_model", "stage", "finetuning_type", "merge", "cutoff_len", "trust_remote_code",
"template"}. Writes OUTPUT_DIR/metrics.jsonl (from LF's trainer_state.json) and OUTPUT_DIR/final/:
  lora + merge   the merged model (peft merge_and_unload), adapter kept in final/adapter/
  lora, no merge the adapter in final/ (AutoModelForCausalLM loads it through peft), adapter_dir "."
  full / freeze  LF's saved model
  rm             a sequence-classification model: decoder + LF's value head as `score` (num_labels 1)
plus the tokenizer LF saved (its chat template is what training used) and final/mgtrainer.json.
final/ is built in a temp folder and renamed into place.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from mgtrainer import atomic
from mgtrainer import manifest as mf

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json")
TASK_OF_STAGE = {"pt": "pt", "rm": "rm"}  # every other stage (sft, dpo, kto, ...) gives a chat model


def write_metrics(out: Path) -> dict[str, float]:
    """OUTPUT_DIR/metrics.jsonl from trainer_state.json's log history; returns LF's final metrics."""
    state = out / "trainer_state.json"
    history = json.loads(state.read_text())["log_history"] if state.is_file() else []
    atomic.write_text(out / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in history))
    results = out / "all_results.json"
    final = json.loads(results.read_text()) if results.is_file() else {}
    return {k: float(v) for k, v in final.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def copy_files(src: Path, dst: Path, names) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)


def load_decoder(spec: dict, out: Path, merge: bool):
    """The trained decoder (causal LM) as a transformers model: LF's full save, or base + merged adapter."""
    from transformers import AutoModelForCausalLM

    kw = {"dtype": "auto", "trust_remote_code": spec.get("trust_remote_code", False)}
    if spec["finetuning_type"] != "lora":
        return AutoModelForCausalLM.from_pretrained(out, **kw)
    from peft import PeftModel

    from mgtrainer.driver.model import resolve_model

    base = AutoModelForCausalLM.from_pretrained(resolve_model(spec["base_model"]), **kw)
    return PeftModel.from_pretrained(base, out).merge_and_unload() if merge else None


def to_reward_model(decoder, out: Path, tmp: Path) -> None:
    """Decoder + LF's value head (v_head.summary) -> AutoModelForSequenceClassification, num_labels 1.
    The value head's bias is dropped: rewards shift by a constant, their order is unchanged."""
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    head = load_file(str(out / "value_head.safetensors"))
    cfg = decoder.config
    cfg.num_labels, cfg.architectures = 1, None
    model = AutoModelForSequenceClassification.from_config(cfg, dtype=decoder.dtype)
    missing = model.load_state_dict(decoder.state_dict(), strict=False).missing_keys
    model.score.weight.data.copy_(head["v_head.summary.weight"].to(model.score.weight.dtype))
    if [k for k in missing if not k.startswith("score.")]:
        raise RuntimeError(f"reward model conversion: weights not found {missing[:5]}")
    model.save_pretrained(tmp)


def build_final(spec: dict, out: Path, tmp: Path) -> tuple[str | None, str]:
    """Fill tmp with the servable model; returns (adapter_dir, head)."""
    lora, merge, stage = spec["finetuning_type"] == "lora", spec.get("merge", True), spec["stage"]
    if lora and not merge and stage != "rm":
        copy_files(out, tmp, ADAPTER_FILES)
        return ".", "causal_lm"
    decoder = load_decoder(spec, out, merge=True)
    if stage == "rm":
        to_reward_model(decoder, out, tmp)
    else:
        decoder.save_pretrained(tmp)
        copy_files(out, tmp, ("generation_config.json",))
    if lora:
        copy_files(out, tmp / "adapter", ADAPTER_FILES)
    return ("adapter" if lora else None), ("sequence_classification" if stage == "rm" else "causal_lm")


def finalize(spec: dict) -> Path:
    out = Path(spec["output_dir"])
    metrics = write_metrics(out)
    tmp = atomic.temp_dir(out / "final")
    tmp.chmod(0o755)  # a temp folder is private; final/ is read by servers and other users
    adapter_dir, head = build_final(spec, out, tmp)
    copy_files(out, tmp, TOKENIZER_FILES)
    has_template = (tmp / "chat_template.jinja").is_file() or "chat_template" in _json(tmp / "tokenizer_config.json")
    mf.write(mf.Manifest(
        task=TASK_OF_STAGE.get(spec["stage"], "sft"), base_model=spec["base_model"], head=head,
        finetuning_type=spec["finetuning_type"], template="model" if has_template else spec.get("template"),
        max_length=spec.get("cutoff_len"), adapter_dir=adapter_dir, backend="llamafactory", metrics=metrics,
    ), tmp)
    final = atomic.replace_dir(tmp, out / "final")
    _plots(out)
    return final


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _plots(out: Path) -> None:
    try:
        from mgtrainer.report.plots import report
    except ImportError:
        return
    report(out)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text())
    final = finalize(spec)
    print(f"mgtrainer: LLaMA-Factory output finalized -> {final}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
