"""`mgtrainer chat OUT` as a person uses it: in a terminal (tmux), typing questions and commands, on the real
SmolLM2 after the shared 10-step dates sft. The streamed answer is the model's greedy answer (transformers,
the same chat template); /system and /reset answer with their notes; /exit leaves with exit code 0."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATES = REPO / "script" / "examples" / "real" / "data"


def _tmux(*args) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def _screen_until(session: str, needle: str, count: int = 1, timeout: float = 240) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        screen = _tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", session)
        if screen.count(needle) >= count:
            return screen
        time.sleep(0.5)
    raise AssertionError(f"{needle!r} not on the screen after {timeout} s:\n{screen}")


def _greedy(out: Path, messages: list[dict]) -> str:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out / "final")
    model = AutoModelForCausalLM.from_pretrained(out / "final", dtype=torch.float32)
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=16, do_sample=False)
    return tok.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.heavy
def test_a_person_chats_in_a_terminal(real_sft, tmp_path):
    question = json.loads((DATES / "dates_heldout.jsonl").read_text().splitlines()[0])["messages"][0]["content"]
    session, done = f"mgtchat{time.monotonic_ns()}", tmp_path / "exit_code"
    command = (f"cd {shlex.quote(str(REPO))} && {shlex.quote(sys.executable)} -m mgtrainer chat "
               f"{shlex.quote(str(real_sft))} --max-new-tokens 16; echo $? > {shlex.quote(str(done))}")
    _tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", command)
    try:
        _screen_until(session, ">>> ")
        _tmux("send-keys", "-t", session, question, "Enter")
        screen = _screen_until(session, ">>> ", count=2)
        expected = _greedy(real_sft, [{"role": "user", "content": question}])
        assert f">>> {question}\n{expected}\n>>> " in screen
        _tmux("send-keys", "-t", session, "/system Answer in words.", "Enter")
        _screen_until(session, "(system: Answer in words.; history cleared)")
        _tmux("send-keys", "-t", session, "/reset", "Enter")
        _screen_until(session, "\n(history cleared)")
        _tmux("send-keys", "-t", session, "/exit", "Enter")
        end = time.monotonic() + 30
        while not done.exists() and time.monotonic() < end:
            time.sleep(0.2)
        assert done.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
