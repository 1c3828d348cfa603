"""`lab grade` through a real LiteLLM proxy on 127.0.0.1 in front of the tests' fake provider.

The proxy is the optional extra `prompt-lab[proxy]` (`litellm[proxy]`); where it is not installed
the test is skipped, saying so.
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

PROXY = Path(sys.executable).with_name("litellm")


def _proxy_missing() -> str | None:
    try:
        if importlib.util.find_spec("litellm.proxy.proxy_server") is None or importlib.util.find_spec("fastapi") is None:
            raise ImportError
    except ImportError:
        return "the LiteLLM proxy is not installed (pip install 'prompt-lab[proxy]', i.e. litellm[proxy])"
    return None if PROXY.exists() else f"no `litellm` command next to {sys.executable}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.live
@pytest.mark.skipif(_proxy_missing() is not None, reason=str(_proxy_missing()))
def test_lab_grade_through_a_litellm_proxy(tmp_path: Path, live_provider, capsys):
    port = _free_port()
    config = tmp_path / "proxy.yaml"
    config.write_text(json.dumps({  # JSON is YAML
        "model_list": [{"model_name": "class-model", "litellm_params": {"model": "openai/echo", "api_base": live_provider.url, "api_key": "no-key"}}],
        "general_settings": {"master_key": "sk-trainer-test"},
    }), encoding="utf-8")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "DISABLE_SCHEMA_UPDATE": "true"}
    proxy = subprocess.Popen([str(PROXY), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
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
