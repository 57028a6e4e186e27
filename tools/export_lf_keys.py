"""Write references/lf_keys.json: every argument name LLaMA-Factory's `llamafactory-cli train` reads from a YAML
(its ModelArguments, DataArguments, FinetuningArguments, GeneratingArguments and the fields its TrainingArguments
adds to transformers'), with its default and help text. tools/config_keys.py turns it into the table of
references/config-keys.md. Run in the llamafactory env, which holds the LLaMA-Factory version the locks pin:

    mgt env run llamafactory -- python tools/export_lf_keys.py references/lf_keys.json
"""

from __future__ import annotations

import dataclasses
import json
import sys
from importlib.metadata import version
from pathlib import Path

import transformers
from llamafactory.hparams import DataArguments, FinetuningArguments, GeneratingArguments, ModelArguments
from llamafactory.hparams.training_args import TrainingArguments


def _default(field) -> object:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return None
    return value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)


def main(out: str) -> None:
    theirs = {f.name for f in dataclasses.fields(transformers.Seq2SeqTrainingArguments)}
    keys = {}
    for cls in (ModelArguments, DataArguments, FinetuningArguments, GeneratingArguments, TrainingArguments):
        for field in dataclasses.fields(cls):
            if cls is TrainingArguments and field.name in theirs:
                continue  # transformers' own: tools/config_keys.py lists them from the installed transformers
            keys.setdefault(field.name, {"class": cls.__name__, "default": _default(field),
                                         "help": " ".join(str(field.metadata.get("help", "")).split())})
    Path(out).write_text(json.dumps({"llamafactory": version("llamafactory"), "keys": keys}, indent=1) + "\n")
    print(f"wrote {len(keys)} LLaMA-Factory keys to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
