"""`lab grade` through a real LiteLLM proxy on 127.0.0.1 in front of the tests' fake provider.

The proxy runs as its own process from its own environment (`.venv-proxy`, which `.ci/run` makes, or
LAB_TEST_LITELLM_PROXY); where there is none the test is skipped, saying so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lab.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _proxy_command() -> Path | None:
    """The `litellm` proxy command: LAB_TEST_LITELLM_PROXY, else one beside this Python when the proxy extra
    is installed here, else the separate environment `.ci/run` makes (`.venv-proxy`): the proxy is its own
    process, so its litellm need not be the lab's version (litellm[proxy] does not resolve for every release)."""
    given = os.environ.get("LAB_TEST_LITELLM_PROXY")
    if given:
        return Path(given) if Path(given).exists() else None
    here = Path(sys.executable).with_name("litellm")
    try:
        if here.exists() and importlib.util.find_spec("litellm.proxy.proxy_server") and importlib.util.find_spec("fastapi"):
            return here
    except ImportError:
        pass
    beside = ROOT / ".venv-proxy" / "bin" / "litellm"
    return beside if beside.exists() else None


def _wait_for_the_install(limit_s: float = 900) -> None:
    """.ci/run installs the proxy while the suite runs; wait (bounded) until it has finished."""
    marker = ROOT / ".venv-proxy.installing"
    deadline = time.monotonic() + limit_s
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(2)


def _proxy_missing() -> str | None:
    if _proxy_command() is None:
        return ("no LiteLLM proxy found: install it in its own environment "
                "(python3 -m venv .venv-proxy && .venv-proxy/bin/pip install 'litellm[proxy]', as .ci/run does) "
                "or set LAB_TEST_LITELLM_PROXY to its `litellm` command")
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.live
def test_lab_grade_through_a_litellm_proxy(tmp_path: Path, live_provider, capsys):
    _wait_for_the_install()
    missing = _proxy_missing()
    if missing:
        pytest.skip(missing)
    proxy_command = _proxy_command()
    port = _free_port()
    config = tmp_path / "proxy.yaml"
    config.write_text(json.dumps({  # JSON is YAML
        "model_list": [{"model_name": "class-model", "litellm_params": {"model": "openai/echo", "api_base": live_provider.url, "api_key": "no-key"}}],
        "general_settings": {"master_key": "sk-trainer-test"},
    }), encoding="utf-8")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "DISABLE_SCHEMA_UPDATE": "true"}
    proxy = subprocess.Popen([str(proxy_command), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=1).read()
                break
            except OSError:
                if proxy.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the proxy did not start: {proxy.stderr.read().decode()[-2000:] if proxy.stderr else ''}")
                time.sleep(0.5)
        hand_in = tmp_path / "class.csv"
        hand_in.write_text("learner,exercise,prompt\nana,prompt-engineering/delimiters,Summarise <email>{{ email }}</email>\n", encoding="utf-8")
        os.environ["OPENAI_API_KEY"] = "sk-trainer-test"  # the proxy's key, as a trainer would set it
        try:
            code = main(["grade", str(hand_in), "--out", str(tmp_path / "c"), "--model", "openai/class-model",
                         "--api-base", f"http://127.0.0.1:{port}/v1", "--json"])
        finally:
            del os.environ["OPENAI_API_KEY"]
        out, err = capsys.readouterr()
        assert code == 0, err
        result = json.loads(out)["results"][0]
        assert result["status"] == "graded" and result["score"] is not None
        assert len(live_provider.requests) == 3  # every case went through the proxy to the server behind it
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)
