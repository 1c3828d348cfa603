"""Model discovery (lab/models/discovery.py): keys in the environment and local servers, probed quickly."""

from __future__ import annotations

import socket
import threading

import pytest

from lab.models import discovery as models
from lab.models.discovery import LocalServer, ModelChoice, hosted_choices, probe_local


def test_hosted_models_only_for_providers_whose_key_is_set():
    assert hosted_choices({}) == []
    found = hosted_choices({"ANTHROPIC_API_KEY": "sk-test", "OPENAI_API_KEY": ""})
    assert found and all(c.model.startswith("anthropic/") and c.api_base is None for c in found)
    assert found[0].source == "ANTHROPIC_API_KEY is set"


@pytest.mark.live
def test_a_configured_openai_compatible_server_lists_its_models(live_provider):
    found = probe_local(servers=(), api_base=live_provider.url)
    assert ModelChoice("openai/echo", live_provider.url, f"the configured API base {live_provider.url}") in found


@pytest.mark.live
def test_local_servers_are_named_with_litellm_prefixes(live_provider):
    lm_studio_like = LocalServer("LM Studio", live_provider.port, "/v1/models", "lm_studio", "/v1")
    found = probe_local(servers=(lm_studio_like,))
    assert ModelChoice("lm_studio/echo", live_provider.url, f"LM Studio on 127.0.0.1:{live_provider.port}") in found


def test_ollama_tags_are_read():
    ollama = models.LOCAL_SERVERS[0]
    payload = {"models": [{"name": "llama3.2:latest"}, {"name": "qwen2.5:7b"}, {"junk": 1}]}
    found = probe_local(servers=(ollama,), fetch=lambda url, timeout: payload)
    assert [c.model for c in found] == ["ollama_chat/llama3.2:latest", "ollama_chat/qwen2.5:7b"]
    assert found[0].api_base == "http://127.0.0.1:11434"


@pytest.mark.live
def test_a_closed_port_or_nonsense_answer_is_simply_absent():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends
    closed = LocalServer("vLLM", port, "/v1/models", "hosted_vllm", "/v1")
    assert probe_local(servers=(closed,)) == []
    assert probe_local(servers=(models.LOCAL_SERVERS[1],), fetch=lambda url, timeout: ["not", "a", "listing"]) == []

    def broken(url, timeout):
        raise ValueError("not JSON")

    assert probe_local(servers=(models.LOCAL_SERVERS[1],), fetch=broken) == []


@pytest.mark.live
def test_a_server_that_never_answers_does_not_hold_up_the_probe():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    port = listener.getsockname()[1]
    try:
        silent = LocalServer("vLLM", port, "/v1/models", "hosted_vllm", "/v1")
        done = threading.Event()
        result: list[list[ModelChoice]] = []

        def probe() -> None:
            result.append(probe_local(servers=(silent,), budget_s=0.3))
            done.set()

        threading.Thread(target=probe, daemon=True).start()
        # bounded wait: the probe gives up on its own budget, far below this limit
        assert done.wait(10), "the probe waited for a server that never answers"
        assert result == [[]]
    finally:
        listener.close()


def test_discover_puts_local_models_first_and_drops_duplicates(monkeypatch):
    local = ModelChoice("openai/echo", "http://127.0.0.1:1/v1", "the configured API base")
    monkeypatch.setattr(models, "probe_local", lambda servers, api_base, budget_s: [local, local])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    found = models.discover(api_base="http://127.0.0.1:1/v1")
    assert found[0] == local and found.count(local) == 1
    assert any(c.model == "openai/gpt-4o-mini" and c.api_base is None for c in found)
