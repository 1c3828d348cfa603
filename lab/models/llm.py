"""The one module that talks to litellm.

litellm costs seconds to import, so it is imported on first use only (`load_litellm`), after
`LITELLM_LOCAL_MODEL_COST_MAP` is set so the import never reaches the network. Retries are ours
(litellm's and the SDK's are turned off) so that backoff, cancellation and error wording are the
same for every provider.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import threading
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from lab.errors import CancelledError, ModelError
from lab.models import local
from lab.settings.calls import CallConfig, provider_of

NO_KEY = "no-key"  # sent to key-less local servers, which the OpenAI SDK would otherwise refuse to call
KEY_VARIABLES = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "xai": "XAI_API_KEY",
    "cohere": "COHERE_API_KEY",
    "azure": "AZURE_API_KEY",
}

_litellm: ModuleType | None = None
_import_lock = threading.Lock()


def load_litellm() -> ModuleType:
    """Import litellm once, offline and quiet. Safe to call from any thread."""
    global _litellm, _load_seconds, _loaded_at
    with _import_lock:
        if _litellm is None:
            started = time.monotonic()
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            os.environ.setdefault("LITELLM_LOG", "ERROR")
            import litellm

            litellm.suppress_debug_info = True
            litellm.drop_params = True  # a provider without `seed` or `top_p` ignores it instead of failing
            _litellm = litellm
            _loaded_at = time.monotonic()
            _load_seconds = _loaded_at - started
        return _litellm


def load_seconds() -> float:
    """How long this process spent importing litellm (0 until it has): the learner is told once,
    apart, so that an attempt's time is the model's, not the library's."""
    return _load_seconds


def load_overlap(since: float) -> float:
    """Seconds of litellm's import that fell after `since` (a `time.monotonic()` reading)."""
    if _litellm is None:
        return 0.0
    return max(0.0, min(_load_seconds, _loaded_at - since))


_load_seconds = 0.0
_loaded_at = 0.0


def is_loaded() -> bool:
    return _litellm is not None


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duration_s: float
    retries: int = 0
    finish_reason: str | None = None  # "stop", or "length" when the answer hit max_tokens, or "tool_calls"
    tool_calls: tuple[tuple[str, str, str], ...] = ()  # the model's calls: (id, tool name, arguments as JSON text)
    cached: bool = False  # answered from the response cache (lab.models.cache): no call, no charge


MODEL_NAME_HELP = "litellm names models provider/model, e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest or ollama_chat/llama3.2"


def model_name_shape_problem(model: str) -> str | None:
    """What is plainly wrong with a model name typed by hand, without importing litellm (None if nothing).

    Stricter than litellm, which also accepts a few bare names: a typed name must say its provider.
    """
    name = (model or "").strip()
    if not name or any(c.isspace() for c in name):
        return f"'{model}' is not a model name (no spaces allowed): {MODEL_NAME_HELP}."
    provider, _, rest = name.partition("/")
    if not rest or not provider:
        return f"'{model}' needs its provider in front: {MODEL_NAME_HELP}."
    return None


def model_name_problem(model: str) -> str | None:
    """Why litellm cannot route `model` (one sentence, nothing sent), or None when it can.

    Asks litellm's own router, so it imports litellm: call it where a model is about to be called.
    """
    name = (model or "").strip()
    if not name or any(c.isspace() for c in name):
        return f"'{model}' is not a model name: {MODEL_NAME_HELP}."
    if provider_of(name) == "local" and "/" in name:  # the built-in model: routed by lab.models.local, not litellm
        return local.name_problem(name)
    litellm = load_litellm()
    try:
        litellm.get_llm_provider(name)
    except Exception:
        provider = name.split("/", 1)[0] if "/" in name else None
        if provider:
            return f"'{model}' is not a model litellm knows: there is no provider '{provider}'; {MODEL_NAME_HELP}."
        return f"'{model}' is not a model litellm knows: it needs its provider in front; {MODEL_NAME_HELP}."
    return None


def missing_key(config: CallConfig) -> str | None:
    """The environment variable a hosted model needs but lacks (None for local servers)."""
    if config.api_base:
        return None
    variable = KEY_VARIABLES.get(provider_of(config.model))
    if variable and not os.environ.get(variable):
        return variable
    return None


def complete(
    messages: list[dict[str, Any]],
    config: CallConfig,
    on_delta: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    tools: list[dict[str, Any]] | None = None,
    cache_slot: int | str = 0,
    before_send: Callable[[], None] | None = None,
) -> Completion:
    """Call the model, streaming text to `on_delta` when given; retries 429/5xx with backoff. With `tools`
    (the chat API's shape), the model may answer with calls (`Completion.tool_calls`) instead of text.

    A temperature-0 request the response cache holds (the tools offered are part of the request) is
    answered from it (`config.cache`; `cache_slot` tells apart the samples of one attempt), without
    importing litellm: the text goes to `on_delta` in one piece. `before_send` runs when the request is
    to be sent (not for an answer from the cache), before it goes. Raises ModelError (one plain sentence)
    or CancelledError. Never returns partial text as a success.
    """
    if cancel is not None and cancel.is_set():
        raise CancelledError()
    cached = _ResponseCache.of(messages, config, cache_slot, tools)
    hit = cached.answer()
    if hit is not None:
        if on_delta is not None and hit.text:
            on_delta(hit.text)
        return hit
    if before_send is not None:
        before_send()
    return cached.keep(_complete(messages, config, on_delta, cancel, tools))


@dataclass(frozen=True)
class _ResponseCache:
    """One request's place in the response cache (lab/models/cache.py), for the sync and async calls alike."""

    store: Any
    key: str | None
    config: CallConfig

    @classmethod
    def of(cls, messages: list[dict[str, Any]], config: CallConfig, slot: int | str,
           tools: list[dict[str, Any]] | None) -> "_ResponseCache":
        from lab.models import cache as response_cache

        store = response_cache.for_config(config)
        return cls(store, response_cache.request_key(messages, config, slot, tools) if store is not None else None, config)

    def answer(self) -> Completion | None:
        """The cached answer, as a call that cost nothing; None when there is none or it is to be asked again."""
        if self.store is None or self.key is None or self.config.cache != "use":
            return None
        hit = self.store.get(self.key)
        return None if hit is None else Completion(hit.text, 0, 0, 0.0, 0.0, 0, hit.finish_reason, hit.tool_calls, cached=True)

    def keep(self, completion: Completion) -> Completion:
        if self.store is not None and self.key is not None:
            from lab.models.cache import answer_of

            self.store.put(self.key, self.config.model, answer_of(completion))
        return completion


def _complete(messages: list[dict[str, Any]], config: CallConfig, on_delta: Callable[[str], None] | None,
              cancel: threading.Event | None, tools: list[dict[str, Any]] | None) -> Completion:
    litellm = load_litellm()
    problem = model_name_problem(config.model)
    if problem:
        raise ModelError(problem, kind="bad_model", sent=False)
    variable = missing_key(config)
    if variable:
        raise ModelError(f"No API key for {config.model}: set {variable} in your environment (keys are never stored).", kind="auth", sent=False)
    call = local.route(config)  # the built-in model: its in-process server, started on first use
    started = time.monotonic()
    retries = 0
    while True:
        if cancel is not None and cancel.is_set():
            raise CancelledError()
        try:
            text, usage_in, usage_out, response = _call_cancellable(litellm, messages, call, on_delta, cancel, tools)
            break
        except CancelledError:
            raise
        except Exception as exc:  # every provider error becomes a ModelError here
            error = describe_error(exc, config)
            if error.kind in ("rate_limit", "server") and retries < config.max_retries:
                wait = retry_wait(exc, config, retries)
                retries += 1
                if cancel is not None:
                    if cancel.wait(min(wait, 30.0)):
                        raise CancelledError() from None
                else:
                    time.sleep(min(wait, 30.0))
                continue
            if retries and not error.sent:
                error.sent = True  # an earlier try reached the server (it answered 429 or 5xx)
            raise error from exc
    return Completion(text, usage_in, usage_out, _cost(litellm, response, config), time.monotonic() - started, retries,
                      _finish_reason(response), _tool_calls(response))


def _tool_calls(response: Any) -> tuple[tuple[str, str, str], ...]:
    """The calls of a litellm response (streamed and rebuilt, or not): (id, name, arguments)."""
    choices = getattr(response, "choices", None) or []
    message = getattr(choices[0], "message", None) if choices else None
    found = []
    for number, call in enumerate(getattr(message, "tool_calls", None) or [], 1):
        function = getattr(call, "function", None)
        name = getattr(function, "name", None) or ""
        arguments = getattr(function, "arguments", None)
        found.append((str(getattr(call, "id", None) or f"call_{number}"), str(name), arguments if isinstance(arguments, str) else "{}"))
    return tuple(found)


def _finish_reason(response: Any) -> str | None:
    """Why the model stopped, as the OpenAI shape names it ("stop", "length", "content_filter"…)."""
    choices = getattr(response, "choices", None) or []
    reason = getattr(choices[0], "finish_reason", None) if choices else None
    return str(reason) if reason else None


def _call_cancellable(litellm: ModuleType, messages: list[dict[str, Any]], config: CallConfig,
                      on_delta: Callable[[str], None] | None, cancel: threading.Event | None,
                      tools: list[dict[str, Any]] | None = None) -> tuple[str, int, int, Any]:
    """`_call_once`, but `cancel` ends the wait at once in every phase, even before the first byte.

    The call runs in a daemon thread: a blocked read cannot be interrupted from outside, so the caller
    stops waiting, and the thread closes the stream as soon as it has one (no more tokens are read).
    """
    if cancel is None:
        return _call_once(litellm, messages, config, on_delta, None, tools)
    outcome: list[Any] = []
    done = threading.Event()

    def call() -> None:
        try:
            outcome.append((True, _call_once(litellm, messages, config, on_delta, cancel, tools)))
        except BaseException as exc:  # handed to the caller's thread, which raises it
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=call, name="lab-model-call", daemon=True).start()
    while not done.wait(0.05):
        if cancel.is_set():
            raise CancelledError()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _litellm_kwargs(messages: list[dict[str, Any]], config: CallConfig, tools: list[dict[str, Any]] | None) -> dict[str, Any]:
    """What litellm is called with (retries are ours: litellm's and the SDK's are off)."""
    kwargs: dict[str, Any] = dict(config.params)
    kwargs.update(model=config.model, messages=with_prefill_marker(messages, config.model), timeout=config.timeout, num_retries=0, max_retries=0)
    if tools:
        kwargs["tools"] = tools
    if config.api_base:
        kwargs["api_base"] = config.api_base
    return kwargs


def _call_once(litellm: ModuleType, messages: list[dict[str, Any]], config: CallConfig,
               on_delta: Callable[[str], None] | None, cancel: threading.Event | None,
               tools: list[dict[str, Any]] | None = None) -> tuple[str, int, int, Any]:
    if not local.serves(config):
        return _call_model(litellm, messages, config, on_delta, cancel, tools)
    slot = local.slot()
    while not slot.acquire(timeout=0.1):  # the built-in model answers one call at a time: wait for it unsent
        if cancel is not None and cancel.is_set():
            raise CancelledError()
    try:
        if cancel is not None and cancel.is_set():
            raise CancelledError()
        return _call_model(litellm, messages, config, on_delta, cancel, tools)
    finally:
        slot.release()


def _call_model(litellm: ModuleType, messages: list[dict[str, Any]], config: CallConfig,
                on_delta: Callable[[str], None] | None, cancel: threading.Event | None,
                tools: list[dict[str, Any]] | None = None) -> tuple[str, int, int, Any]:
    kwargs = _litellm_kwargs(messages, config, tools)
    if config.api_base and provider_of(config.model) in ("openai", "hosted_vllm", "lm_studio") and not os.environ.get("OPENAI_API_KEY"):
        kwargs["api_key"] = NO_KEY
    if on_delta is None:
        response = _completion(litellm, kwargs)
        if not getattr(response, "choices", None):
            raise _Malformed("no choices")
        text = response.choices[0].message.content or ""
        if local.serves(config):
            text = local.without_echoed_prefill(messages, text)
        usage = getattr(response, "usage", None)
        return text, _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"), response
    kwargs.update(stream=True, stream_options={"include_usage": True})
    stream = _completion(litellm, kwargs)
    if cancel is not None and cancel.is_set():  # cancelled while waiting for the headers: read nothing
        _close(stream)
        raise CancelledError()
    chunks = []
    parts: list[str] = []
    any_choice = calling = False
    try:
        for chunk in stream:
            if cancel is not None and cancel.is_set():
                raise CancelledError()
            chunks.append(chunk)
            choices = getattr(chunk, "choices", None) or []
            any_choice = any_choice or bool(choices)
            delta = getattr(choices[0].delta, "content", None) if choices else None
            calling = calling or bool(choices and getattr(choices[0].delta, "tool_calls", None))
            if delta:
                parts.append(delta)
                on_delta(delta)
    except CancelledError:
        raise
    except Exception as exc:
        if _stream_ended_early(exc):
            # litellm reports a stream that stops without a finish_reason as a retryable 500: it is
            # either a completion with nothing in `choices` or a connection cut in mid-answer
            raise _Malformed("cut" if any_choice else "no choices") from exc
        raise
    finally:
        if cancel is not None and cancel.is_set():
            _close(stream)
    if not chunks:
        raise _Malformed("cut")
    if not parts and not calling and not _is_event_stream(stream):
        # litellm turns a body that is not server-sent events (a proxy's HTML page) into an empty answer
        # that "stopped": graded, that would score an answer nobody gave
        raise _Malformed("not a completion")
    response = litellm.stream_chunk_builder(chunks, messages=messages)
    usage = getattr(response, "usage", None) if response is not None else None
    return "".join(parts), _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"), response


def _completion(litellm: ModuleType, kwargs: dict[str, Any]) -> Any:
    """`litellm.completion`, leaving litellm's global `add_function_to_prompt` as it was: litellm sets it for good
    when a provider (plain `ollama/`) takes tools as prompt text, which would change every later call's tools."""
    if "tools" not in kwargs:
        return litellm.completion(**kwargs)
    before = getattr(litellm, "add_function_to_prompt", False)
    try:
        return litellm.completion(**kwargs)
    finally:
        litellm.add_function_to_prompt = before


def _close(stream: Any) -> None:
    close = getattr(stream, "close", None) or getattr(getattr(stream, "completion_stream", None), "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            pass


class _Malformed(Exception):
    """An answer that arrived but holds no completion: `what` is "not a completion", "no choices" or "cut"."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def _stream_ended_early(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if "stream ended before a finish_reason" in str(current).lower():
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__ or getattr(current, "original_exception", None)
    return False


def _is_event_stream(stream: Any) -> bool:
    """Whether the server answered a streamed call with server-sent events (True when it cannot be told)."""
    headers = (getattr(stream, "_hidden_params", None) or {}).get("additional_headers") or {}
    content_type = next((str(v) for k, v in headers.items() if k.lower().endswith("content-type")), None)
    return content_type is None or "event-stream" in content_type.lower()


def _tokens(usage: Any, name: str) -> int:
    value = getattr(usage, name, None) if usage is not None else None
    return int(value or 0)


def _cost(litellm: ModuleType, response: Any, config: CallConfig) -> float:
    if response is None:
        return 0.0
    try:
        return float(litellm.completion_cost(completion_response=response, model=config.model) or 0.0)
    except Exception:  # no price known (a local or unlisted model): free as far as we can tell
        return 0.0


def retry_wait(exc: BaseException, config: CallConfig, retries: int) -> float:
    """Seconds before the next try: the server's Retry-After, else exponential backoff with jitter."""
    wait = _retry_after(exc)
    return wait if wait is not None else config.backoff * (2**retries) * (1 + random.random() * 0.25)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def describe_error(exc: BaseException, config: CallConfig) -> ModelError:
    """One clear sentence for any failure of a call, with a stable `kind`."""
    if isinstance(exc, ModelError):
        return exc
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    text = str(getattr(exc, "message", "") or exc)
    builtin = local.is_builtin(config.model)
    where = "The built-in model" if builtin else config.api_base or provider_of(config.model)
    lowered = text.lower()
    if isinstance(exc, _Malformed) and exc.what == "no choices":
        return ModelError(f"{where} sent a completion with no answer in it (its `choices` list is empty); send again, or check the server.", "malformed")
    if isinstance(exc, _Malformed) and exc.what == "cut":
        return ModelError(f"{where} closed the connection before the answer was finished; nothing was graded, send again.", "malformed")
    if isinstance(exc, _Malformed) or _caused_by_bad_json(exc) or "expecting value" in lowered or "received response" in lowered \
            or "empty or invalid response" in lowered \
            or "jsondecodeerror" in lowered or "error parsing chunk" in lowered or isinstance(exc, ValueError) and "json" in lowered:
        # litellm labels an unreadable body as a 500 of its own making: the server's status was not that
        return ModelError(f"{where} sent an answer that could not be read as a chat completion; check that --api-base points at an OpenAI-compatible /v1 endpoint.", "malformed")
    if name in ("APIConnectionError", "ConnectError", "ConnectionError") or "connection error" in lowered \
            or "connection refused" in lowered or "connect" in lowered and not status:
        if builtin:  # its server runs in this process: it has stopped
            return ModelError("The built-in model stopped answering; close the lab and open it again.", "connection", status, sent=False)
        if not config.api_base:  # a hosted API: no server of the learner's to be running
            return ModelError(f"Could not reach {provider_of(config.model)}'s API for {config.model}: check your internet connection "
                              "(or a proxy or firewall in the way) and send again.", "connection", status, sent=False)
        return ModelError(f"Could not reach {where}: is the server running and the address right?", "connection", status,
                          sent=False)
    if name in ("Timeout", "APITimeoutError", "ReadTimeout", "TimeoutException") or "timed out" in lowered or "timeout" in name.lower():
        return ModelError(f"{config.model} did not answer within {config.timeout:g} s; try again, or raise the timeout (LAB_TIMEOUT).", "timeout", status)
    if name == "UnsupportedParamsError" and ("function" in lowered or "tool" in lowered):  # raised before anything is sent
        return ModelError(f"{config.model} cannot call tools: litellm does not support function calling for its provider; "
                          "choose a model that can (for Ollama, name it ollama_chat/…).", "bad_request", status, sent=False)
    if "llm provider not provided" in lowered:  # litellm's own 400, raised before anything is sent
        return ModelError(f"'{config.model}' is not a model litellm knows; {MODEL_NAME_HELP}.", "bad_model", status, sent=False)
    if name == "AuthenticationError" or status == 401:
        return ModelError(f"{where} refused the API key for {config.model} (401); check the key in your environment.", "auth", 401)
    if name == "PermissionDeniedError" or status == 403:
        return ModelError(f"{where} denied access to {config.model} (403); your key may not have access to this model.", "auth", 403)
    if name == "RateLimitError" or status == 429:
        return ModelError(f"{where} is rate-limiting requests (429) and retries did not get through; wait a minute and send again.", "rate_limit", 429)
    if name == "NotFoundError" or status == 404:
        return ModelError(f"{where} does not know the model '{config.model}' (404); check the model name.", "not_found", 404)
    if name == "ContextWindowExceededError" or "exceeds the available context size" in lowered:  # the latter: llama.cpp's server
        return ModelError(f"The conversation is too long for {config.model}; shorten the prompt.", "bad_request", status)
    if status in (502, 503, 504):
        return ModelError(f"{where} is overloaded or unavailable ({status}) and retries did not help; try again in a few minutes.", "server", status)
    if isinstance(status, int) and status >= 500:
        return ModelError(f"{where} had an internal error ({status}) and retries did not help; try again later.", "server", status)
    if name == "BadRequestError" or status == 400:
        detail = text.split(" - ", 1)[-1].strip()[:200]
        return ModelError(f"{where} rejected the request (400): {detail}", "bad_request", 400)
    short = text.splitlines()[0][:200] if text else name
    return ModelError(f"The call to {config.model} failed: {short}", "error", status)


def _caused_by_bad_json(exc: BaseException) -> bool:
    """Whether a JSON decoding error sits anywhere in the chain (litellm wraps a broken stream event
    in a MidStreamFallbackError that otherwise looks like a 503)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, json.JSONDecodeError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__ or getattr(current, "original_exception", None)
    return False


# Providers that continue a final assistant message only when it carries `"prefix": true` (litellm forwards
# the key and never adds it); Anthropic and OpenAI-compatible servers take the message as it is.
PREFIX_PROVIDERS = ("mistral", "deepseek")


def with_prefill_marker(messages: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """`messages`, with the prefix marker on a final assistant message (a prefill) for the providers that need it.
    The answer that comes back is the continuation only: the caller puts the prefill in front."""
    if not messages or messages[-1].get("role") != "assistant" or provider_of(model) not in PREFIX_PROVIDERS:
        return messages
    return [*messages[:-1], {**messages[-1], "prefix": True}]


def supports_prefill(model: str) -> bool:
    """Whether litellm's model map says `model` continues a final assistant message (False for a name it does
    not list, such as a local server's). Imports litellm, but not for the built-in model (which continues one)."""
    if local.is_builtin(model):
        return True
    load_litellm()
    try:
        from litellm.utils import supports_assistant_prefill

        return bool(supports_assistant_prefill(model=model))
    except Exception:
        return False


def supports_tools(model: str) -> bool | None:
    """Whether litellm's model map says `model` calls tools (function calling); None when the map does not list
    the model (a local server's), so nothing can be said. Imports litellm, but not for the built-in model (it calls none)."""
    if local.is_builtin(model):
        return False
    litellm = load_litellm()
    try:
        litellm.get_model_info(model=model)
    except Exception:
        return None
    try:
        from litellm.utils import supports_function_calling

        return bool(supports_function_calling(model=model))
    except Exception:
        return None


def supports_response_schema(model: str) -> bool:
    """Whether litellm says `model` takes a JSON schema natively (used by the judge); the built-in model's server
    holds every answer to the schema it is given."""
    if local.is_builtin(model):
        return True
    litellm = load_litellm()
    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:
        return False


# ---------------------------------------------------------------- many calls at once (`lab grade`)
#
# `lab grade` makes thousands of calls. litellm costs about 11 ms of CPU per `acompletion` here (and
# seconds to import), which on two cores makes the model path the bottleneck, so calls to an
# OpenAI-compatible base URL (a local server, vLLM, LM Studio, a LiteLLM proxy) speak the chat
# completions protocol directly over aiohttp; every other provider still goes through litellm.

OPENAI_COMPATIBLE = ("openai", "hosted_vllm", "lm_studio")
_prices: dict[str, tuple[float, float]] | None = None
_prices_lock = threading.Lock()


def speaks_openai(config: CallConfig) -> bool:
    """Whether calls for `config` go straight to an OpenAI-compatible server (no litellm needed)."""
    return bool(config.api_base) and provider_of(config.model) in OPENAI_COMPATIBLE


def async_calls_need_litellm(config: CallConfig) -> bool:
    """Whether `AsyncCaller`'s calls for `config` import litellm: not for an OpenAI-compatible server, nor for
    the built-in model (routed to its own such server)."""
    return not speaks_openai(config) and not local.is_builtin(config.model)


def price_per_token(model: str) -> tuple[float, float] | None:
    """(input, output) USD per token from litellm's own price table, read as data (no import), or None.
    The built-in model costs nothing."""
    global _prices
    if local.is_builtin(model):
        return 0.0, 0.0
    with _prices_lock:
        if _prices is None:
            _prices = _price_table()
    for name in (model, model.split("/", 1)[-1]):
        found = _prices.get(name)
        if found is not None:
            return found
    return None


def _price_table() -> dict[str, tuple[float, float]]:
    """litellm's prices by model name. The table is 3.5 MB of JSON (tens of milliseconds and megabytes
    to read): the prices alone are kept in the cache folder, rebuilt whenever litellm's file changes."""
    import importlib.util

    spec = importlib.util.find_spec("litellm")  # finds the package without running its __init__
    source = next((os.path.join(folder, "model_prices_and_context_window_backup.json") for folder in (spec.submodule_search_locations or [])
                   if os.path.exists(os.path.join(folder, "model_prices_and_context_window_backup.json"))), None) if spec else None
    if source is None:
        return {}
    from lab.settings import paths

    info = os.stat(source)
    stamp = f"{source}:{info.st_size}:{info.st_mtime_ns}"
    slim = paths.cache_dir() / "litellm-prices.json"
    try:
        kept = json.loads(slim.read_text(encoding="utf-8"))
        if kept.get("stamp") == stamp:
            return {name: (float(p[0]), float(p[1])) for name, p in kept["prices"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    with open(source, encoding="utf-8") as f:
        table = json.load(f)
    prices = {name: (float(entry.get("input_cost_per_token") or 0.0), float(entry.get("output_cost_per_token") or 0.0))
              for name, entry in table.items() if isinstance(entry, dict) and "input_cost_per_token" in entry}
    try:
        slim.parent.mkdir(parents=True, exist_ok=True)
        with paths.replaced_atomically(slim) as out:
            out.write(json.dumps({"stamp": stamp, "prices": prices}))
    except OSError:
        pass  # no cache folder: read in full next time too
    return prices


class _StatusError(Exception):
    """An HTTP error answer of an OpenAI-compatible server, shaped for `describe_error` and `_retry_after`."""

    def __init__(self, status: int, message: str, headers: Any):
        super().__init__(message)
        self.status_code = status
        self.message = message
        self.response = type("Response", (), {"headers": headers})()


class _Pacer:
    """At most `rpm` request starts per minute, spread evenly (a burst of 32 at once would earn 429s)."""

    def __init__(self, rpm: int | None):
        self.interval = 60.0 / rpm if rpm else 0.0
        self.next_at = 0.0
        self.lock: Any = None

    async def wait(self) -> None:
        if not self.interval:
            return
        import asyncio

        if self.lock is None:
            self.lock = asyncio.Lock()
        async with self.lock:
            now = time.monotonic()
            start = max(now, self.next_at)
            self.next_at = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


class AsyncCaller:
    """Makes many calls at once: `concurrency` in flight, `rpm` starts a minute, per-call retries.

    A call that is backing off (429, 5xx) gives its slot up while it waits, so it never holds up the others.
    Use inside one event loop; `aclose()` at the end.
    """

    def __init__(self, concurrency: int = 8, rpm: int | None = None):
        import asyncio

        self.concurrency = max(1, concurrency)
        self.slots = asyncio.Semaphore(self.concurrency)
        self.builtin_slot = asyncio.Semaphore(1)  # the built-in model answers one call at a time
        self.pacer = _Pacer(rpm)
        self._session: Any = None
        self.requests = 0
        self.retries = 0

    async def _http(self) -> Any:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.concurrency * 2))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def complete(self, messages: list[dict[str, Any]], config: CallConfig,
                       before_send: Callable[[], None] | None = None, tools: list[dict[str, Any]] | None = None,
                       cache_slot: int | str = 0) -> Completion:
        """One call, retried on 429 and 5xx; raises ModelError (one sentence) like `complete`.

        `before_send` runs once, holding the call's slot, just before the first request goes out (a
        budget check there sees only the calls really in flight); what it raises is passed on. A
        request the response cache holds (`config.cache`) is answered from it: no request, no
        `before_send`, no charge."""
        cached = _ResponseCache.of(messages, config, cache_slot, tools)
        hit = cached.answer()
        if hit is not None:
            return hit
        return cached.keep(await self._complete(messages, config, before_send, tools))

    async def _complete(self, messages: list[dict[str, Any]], config: CallConfig,
                        before_send: Callable[[], None] | None, tools: list[dict[str, Any]] | None) -> Completion:
        import asyncio

        named = config
        if local.is_builtin(config.model):
            config = await asyncio.to_thread(local.route, config)  # starts its server off the loop; ModelError: nothing sent
        if not speaks_openai(config):
            problem = await asyncio.to_thread(model_name_problem, config.model)  # imports litellm off the loop
            if problem:
                raise ModelError(problem, kind="bad_model")
            variable = missing_key(config)
            if variable:
                raise ModelError(f"No API key for {config.model}: set {variable} in your environment (keys are never stored).", kind="auth")
        started = time.monotonic()
        retries = 0
        while True:
            try:
                await self.pacer.wait()
                async with self.slots, (self.builtin_slot if local.serves(config) else contextlib.nullcontext()):
                    if before_send is not None:
                        check, before_send = before_send, None
                        check()
                    self.requests += 1
                    if speaks_openai(config):
                        text, usage_in, usage_out, cost, reason, calls = await self._openai_call(messages, config, tools)
                    else:
                        text, usage_in, usage_out, cost, reason, calls = await self._litellm_call(messages, config, tools)
                return Completion(text, usage_in, usage_out, cost, time.monotonic() - started, retries,
                                  reason or ("tool_calls" if calls else None), calls)
            except (asyncio.CancelledError, CancelledError):
                raise
            except Exception as exc:
                error = describe_error(exc, named)
                if error.kind in ("rate_limit", "server") and retries < config.max_retries:
                    wait = retry_wait(exc, config, retries)
                    retries += 1
                    self.retries += 1
                    await asyncio.sleep(min(wait, 30.0))  # outside the slot: the others go on
                    continue
                raise error from exc

    async def _openai_call(self, messages: list[dict[str, Any]], config: CallConfig,
                           tools: list[dict[str, Any]] | None = None) -> tuple[str, int, int, float, str | None, tuple[tuple[str, str, str], ...]]:
        import aiohttp

        session = await self._http()
        body: dict[str, Any] = dict(config.params)
        # as litellm sends them: a message's empty fields left out (an assistant message that only called tools has no content)
        body.update(model=config.model.split("/", 1)[1], messages=[{k: v for k, v in m.items() if v is not None} for m in messages])
        if tools:
            body["tools"] = tools
        key = os.environ.get("OPENAI_API_KEY") or NO_KEY
        url = str(config.api_base).rstrip("/") + "/chat/completions"
        async with session.post(url, json=body, headers={"authorization": f"Bearer {key}"},
                                timeout=aiohttp.ClientTimeout(total=config.timeout)) as response:
            raw = await response.read()
            if response.status >= 400:
                raise _StatusError(response.status, _error_message(raw, response.status), response.headers)
            try:
                data = json.loads(raw)
            except ValueError:
                raise _Malformed("not a completion") from None
            proxy_cost = response.headers.get("x-litellm-response-cost")  # a LiteLLM proxy knows the real price
        text, reason, calls, tokens_in, tokens_out = _read_completion(data)
        if local.serves(config):
            text = local.without_echoed_prefill(messages, text)
        if proxy_cost is not None:
            try:
                return text, tokens_in, tokens_out, float(proxy_cost), reason, calls
            except ValueError:
                pass
        prices = price_per_token(config.model)
        cost = tokens_in * prices[0] + tokens_out * prices[1] if prices else 0.0
        return text, tokens_in, tokens_out, cost, reason, calls

    async def _litellm_call(self, messages: list[dict[str, Any]], config: CallConfig,
                            tools: list[dict[str, Any]] | None = None) -> tuple[str, int, int, float, str | None, tuple[tuple[str, str, str], ...]]:
        litellm = load_litellm()
        kwargs = _litellm_kwargs(messages, config, tools)
        response = await litellm.acompletion(**kwargs)
        if not getattr(response, "choices", None):
            raise _Malformed("no choices")
        usage = getattr(response, "usage", None)
        text = response.choices[0].message.content or ""
        return (text, _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"), _cost(litellm, response, config),
                _finish_reason(response), _tool_calls(response))


def _read_completion(data: Any) -> tuple[str, str | None, tuple[tuple[str, str, str], ...], int, int]:
    """(text, finish reason, tool calls, prompt tokens, completion tokens) of an OpenAI-shaped chat completion
    read as JSON; `_Malformed` for anything else (a 200 whose body has another shape is the server's fault,
    said in one sentence, not a Python error)."""
    if not isinstance(data, dict) or "choices" not in data:
        raise _Malformed("not a completion")
    choices = data.get("choices") or []
    if not isinstance(choices, list) or not choices:
        raise _Malformed("no choices")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    usage = data.get("usage") or {}
    if not isinstance(message, dict) or not isinstance(usage, dict):
        raise _Malformed("not a completion")
    text, reason, called = message.get("content"), choice.get("finish_reason"), message.get("tool_calls") or []
    if not isinstance(text, (str, type(None))) or not isinstance(reason, (str, type(None))) or not isinstance(called, list):
        raise _Malformed("not a completion")
    calls = tuple((str(c.get("id") or f"call_{n}"), str((c.get("function") or {}).get("name") or ""),
                   str((c.get("function") or {}).get("arguments") or "{}"))
                  for n, c in enumerate(called, 1) if isinstance(c, dict) and isinstance(c.get("function") or {}, dict))
    try:
        tokens_in, tokens_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (TypeError, ValueError):
        raise _Malformed("not a completion") from None
    return text or "", reason, calls, tokens_in, tokens_out


def _error_message(raw: bytes, status: int) -> str:
    try:
        error = json.loads(raw).get("error")
        message = error.get("message") if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        message = raw[:200].decode("utf-8", "replace")
    return f"Error code: {status} - {message}"
