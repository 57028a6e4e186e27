"""`mgtrainer config show CFG [k=v ...]` and `mgtrainer config schema [-o FILE]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mgtrainer import atomic


class IntermixedParser(argparse.ArgumentParser):
    """Lets options sit between positionals: `config show CFG --format json k=v`."""

    _mixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._mixing:
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False


def register(sub) -> None:
    parser = sub.add_parser("config", help="show the resolved config, export its JSON schema")
    verbs = parser.add_subparsers(dest="config_verb", metavar="VERB", required=True,
                                  parser_class=IntermixedParser)
    show = verbs.add_parser("show", help="print the resolved config (aliases mapped, defaults filled)")
    show.add_argument("config", metavar="CFG", help="YAML or JSON config file")
    show.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                      help="overrides: train.learning_rate=1e-4, lora_rank=16, dataset=a,b ...")
    show.add_argument("--format", choices=("yaml", "json"), default="yaml")
    show.set_defaults(func=show_command)
    schema = verbs.add_parser("schema", help="print or write the JSON schema (for editors)")
    schema.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    schema.set_defaults(func=schema_command)


def show_command(args) -> int:
    from mgtrainer.config import load_config
    from mgtrainer.config.schema import dump

    cfg = load_config(args.config, args.overrides)
    for note in cfg.notes:
        print(f"note: {note}", file=sys.stderr)
    text = dump(cfg, args.format)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.syntax import Syntax

        Console().print(Syntax(text, args.format, background_color="default"))
    else:
        sys.stdout.write(text)
    return 0


def schema_command(args) -> int:
    from mgtrainer.config.schema import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if not args.output:
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    atomic.write_text(out, text)
    print(f"wrote {out}", file=sys.stderr)
    return 0
