"""Run inside the llamafactory env: LLaMA-Factory's own loading + converters on a dataset_info.json.

    python -m mgtrainer.backends.lf_align DATASET_DIR OUT.json [NAME ...]

For every entry of DATASET_DIR/dataset_info.json whose local file exists (or the NAMEs given), loads
it exactly as `llamafactory-cli train` does (`datasets` loader, then `align_dataset` with the entry's
formatting/columns/tags) and writes {name: [{"_prompt", "_response", "_system", "_tools"}, ...]}, one
item per input row in file order. The agreement test and `mgtrainer` compare our normalisation
(mgtrainer.data) with this. Imports llamafactory, so it only runs in that env.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from mgtrainer import atomic

KEYS = ("_prompt", "_response", "_system", "_tools")


def local_names(dataset_dir: Path) -> list[str]:
    """Entries of dataset_info.json backed by a file that exists under dataset_dir."""
    info = json.loads((dataset_dir / "dataset_info.json").read_text(encoding="utf-8"))
    return [n for n, e in info.items() if "file_name" in e and (dataset_dir / e["file_name"]).exists()]


def aligned_rows(dataset_dir: Path, names: list[str]) -> dict[str, list[dict]]:
    from llamafactory.data.loader import _load_single_dataset
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    data_args = DataArguments(dataset_dir=str(dataset_dir), overwrite_cache=True)
    model_args = ModelArguments(model_name_or_path="unused")
    with tempfile.TemporaryDirectory() as tmp:
        train_args = Seq2SeqTrainingArguments(output_dir=tmp, report_to=[])
        out = {}
        for name, attr in zip(names, get_dataset_list(names, str(dataset_dir))):
            dataset = _load_single_dataset(attr, model_args, data_args, train_args)
            out[name] = [{k: row[k] for k in KEYS} for row in dataset]
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    dataset_dir, out_path = Path(args[0]).resolve(), Path(args[1])
    names = args[2:] or local_names(dataset_dir)
    rows = aligned_rows(dataset_dir, names)
    atomic.write_text(out_path, json.dumps(rows, ensure_ascii=False))
    print(f"lf_align: {sum(len(v) for v in rows.values())} rows from {len(rows)} datasets -> {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
