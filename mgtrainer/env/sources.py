"""Where packages come from: pip's configuration translated into uv options, and uv itself.

uv does not read pip.conf, but users' mirrors and local wheel folders live there. We read the same
files pip reads (global, user, site, PIP_CONFIG_FILE) and the PIP_* variables, and turn index-url,
extra-index-url, find-links, trusted-host and constraint into uv flags. A UV_* variable that covers
the same option wins: we then leave pip's value out and uv reads its own variable.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mgtrainer.errors import MgtError
from mgtrainer.home import mgt_home

__all__ = ["mgt_home"]  # re-exported: the env layer's callers ask sources for it

# pip option -> (uv flag, UV_* variables that make uv ignore pip's value)
PIP_TO_UV = {
    "index-url": ("--index-url", ("UV_INDEX_URL", "UV_DEFAULT_INDEX")),
    "extra-index-url": ("--extra-index-url", ("UV_EXTRA_INDEX_URL", "UV_INDEX")),
    "find-links": ("--find-links", ("UV_FIND_LINKS",)),
    "trusted-host": ("--allow-insecure-host", ("UV_INSECURE_HOST",)),
    "constraint": ("--constraint", ("UV_CONSTRAINT",)),
}


def pip_config_files() -> list[Path]:
    """pip's config files, lowest priority first (pip's own order: global, user, site, PIP_CONFIG_FILE)."""
    env = os.environ
    if env.get("PIP_CONFIG_FILE") == os.devnull:
        return []
    xdg_dirs = env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d] + [Path("/etc/pip.conf")]
    home = Path.home()
    xdg_home = Path(env.get("XDG_CONFIG_HOME", home / ".config"))
    files += [home / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf"]
    files.append(Path(sys.prefix) / "pip.conf")
    if env.get("PIP_CONFIG_FILE"):
        files.append(Path(env["PIP_CONFIG_FILE"]))
    return files


def pip_options() -> dict[str, list[str]]:
    """The pip options we translate, as pip would see them ([global] then [install], then PIP_*)."""
    found: dict[str, list[str]] = {}
    for path in pip_config_files():
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except configparser.Error as err:
            raise MgtError(f"{path}:1: cannot parse pip config ({err}); expected an INI file") from None
        for section in ("global", "install"):
            for key in PIP_TO_UV:
                if parser.has_option(section, key):
                    found[key] = parser.get(section, key).split()
    for key in PIP_TO_UV:
        value = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if value:
            found[key] = value.split()
    return found


def uv_source_args() -> list[str]:
    """uv flags for the package sources pip is configured with, minus what UV_* variables cover."""
    args: list[str] = []
    for key, values in pip_options().items():
        flag, uv_vars = PIP_TO_UV[key]
        if any(os.environ.get(v) for v in uv_vars):
            continue
        for value in values:
            args += [flag, value]
    if not os.environ.get("UV_INDEX_STRATEGY"):
        # A pinned lock names exact versions: take each from whichever source has it, so a partial
        # local mirror listed as an extra index cannot shadow PyPI.
        args += ["--index-strategy", "unsafe-best-match"]
    return args


def find_links_dirs() -> list[Path]:
    """Local folders among the find-links sources (pip's and UV_FIND_LINKS)."""
    values = pip_options().get("find-links", []) + os.environ.get("UV_FIND_LINKS", "").replace(",", " ").split()
    dirs = []
    for value in values:
        path = Path(value.removeprefix("file://"))
        if path.is_dir():
            dirs.append(path)
    return dirs


def find_uv() -> str | None:
    """The uv uv_exe() would run, if there is one already: $MGT_UV, uv on PATH, mgtrainer's own; None."""
    if os.environ.get("MGT_UV"):
        return os.environ["MGT_UV"]
    on_path = shutil.which("uv")
    if on_path:
        return on_path
    exe = mgt_home() / "tools" / "uv" / "bin" / "uv"
    return str(exe) if exe.exists() else None


def uv_exe() -> str:
    """The uv to run: $MGT_UV, uv on PATH, or one pip-installed into mgtrainer's own tool venv."""
    found = find_uv()
    if found:
        return found
    tool = mgt_home() / "tools" / "uv"
    exe = tool / "bin" / "uv"
    from filelock import FileLock

    tool.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(tool) + ".lock"):
        if not exe.exists():
            print(f"mgtrainer: uv not found on PATH; installing it with pip into {tool}", file=sys.stderr)
            _run([sys.executable, "-m", "venv", "--clear", str(tool)])
            _run([str(tool / "bin" / "python"), "-m", "pip", "install", "-q", "uv"])
    return str(exe)


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd)
    if proc.returncode:
        raise MgtError(f"{cmd[0]}:1: command failed with exit code {proc.returncode} ({' '.join(cmd)}); "
                       "expected it to install uv (is pip able to reach an index?)")
