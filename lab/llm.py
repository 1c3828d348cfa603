"""The one module that talks to litellm.

litellm costs seconds to import, so it is imported on first use only (`load_litellm`), after
`LITELLM_LOCAL_MODEL_COST_MAP` is set so the import never reaches the network. Retries are ours
(litellm's and the SDK's are turned off) so that backoff, cancellation and error wording are the
same for every provider.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from lab.errors import CancelledError, ModelError

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
class CallConfig:
    """Everything about a call but the messages. `params` are the exercise's call settings."""

    model: str
    api_base: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duration_s: float
    retries: int = 0
    finish_reason: str | None = None  # "stop", or "length" when the answer hit max_tokens


def provider_of(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else "openai"


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
    messages: list[dict[str, str]],
    config: CallConfig,
    on_delta: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> Completion:
    """Call the model, streaming text to `on_delta` when given; retries 429/5xx with backoff.

    Raises ModelError (one plain sentence) or CancelledError. Never returns partial text as a success.
    """
    litellm = load_litellm()
    problem = model_name_problem(config.model)
    if problem:
        raise ModelError(problem, kind="bad_model", sent=False)
    variable = missing_key(config)
    if variable:
        raise ModelError(f"No API key for {config.model}: set {variable} in your environment (keys are never stored).", kind="auth", sent=False)
    started = time.monotonic()
    retries = 0
    while True:
        if cancel is not None and cancel.is_set():
            raise CancelledError()
        try:
            text, usage_in, usage_out, response = _call_cancellable(litellm, messages, config, on_delta, cancel)
            break
        except CancelledError:
            raise
        except Exception as exc:  # every provider error becomes a ModelError here
            error = describe_error(exc, config)
            if error.kind in ("rate_limit", "server") and retries < config.max_retries:
                wait = _retry_after(exc)
                if wait is None:
                    wait = config.backoff * (2**retries) * (1 + random.random() * 0.25)
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
                      _finish_reason(response))


def _finish_reason(response: Any) -> str | None:
    """Why the model stopped, as the OpenAI shape names it ("stop", "length", "content_filter"…)."""
    choices = getattr(response, "choices", None) or []
    reason = getattr(choices[0], "finish_reason", None) if choices else None
    return str(reason) if reason else None


def _call_cancellable(litellm: ModuleType, messages: list[dict[str, str]], config: CallConfig,
                      on_delta: Callable[[str], None] | None, cancel: threading.Event | None) -> tuple[str, int, int, Any]:
    """`_call_once`, but `cancel` ends the wait at once in every phase, even before the first byte.

    The call runs in a daemon thread: a blocked read cannot be interrupted from outside, so the caller
    stops waiting, and the thread closes the stream as soon as it has one (no more tokens are read).
    """
    if cancel is None:
        return _call_once(litellm, messages, config, on_delta, None)
    outcome: list[Any] = []
    done = threading.Event()

    def call() -> None:
        try:
            outcome.append((True, _call_once(litellm, messages, config, on_delta, cancel)))
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


def _call_once(litellm: ModuleType, messages: list[dict[str, str]], config: CallConfig,
               on_delta: Callable[[str], None] | None, cancel: threading.Event | None) -> tuple[str, int, int, Any]:
    kwargs: dict[str, Any] = dict(config.params)
    kwargs.update(model=config.model, messages=messages, timeout=config.timeout, num_retries=0, max_retries=0)
    if config.api_base:
        kwargs["api_base"] = config.api_base
        if provider_of(config.model) in ("openai", "hosted_vllm", "lm_studio") and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = NO_KEY
    if on_delta is None:
        response = litellm.completion(**kwargs)
        if not getattr(response, "choices", None):
            raise _Malformed("no choices")
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        return text, _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"), response
    kwargs.update(stream=True, stream_options={"include_usage": True})
    stream = litellm.completion(**kwargs)
    if cancel is not None and cancel.is_set():  # cancelled while waiting for the headers: read nothing
        _close(stream)
        raise CancelledError()
    chunks = []
    parts: list[str] = []
    any_choice = False
    try:
        for chunk in stream:
            if cancel is not None and cancel.is_set():
                raise CancelledError()
            chunks.append(chunk)
            choices = getattr(chunk, "choices", None) or []
            any_choice = any_choice or bool(choices)
            delta = getattr(choices[0].delta, "content", None) if choices else None
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
    if not parts and not _is_event_stream(stream):
        # litellm turns a body that is not server-sent events (a proxy's HTML page) into an empty answer
        # that "stopped": graded, that would score an answer nobody gave
        raise _Malformed("not a completion")
    response = litellm.stream_chunk_builder(chunks, messages=messages)
    usage = getattr(response, "usage", None) if response is not None else None
    return "".join(parts), _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"), response


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
    where = config.api_base or provider_of(config.model)
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
        if not config.api_base:  # a hosted API: no server of the learner's to be running
            return ModelError(f"Could not reach {provider_of(config.model)}'s API for {config.model}: check your internet connection "
                              "(or a proxy or firewall in the way) and send again.", "connection", status, sent=False)
        return ModelError(f"Could not reach {where}: is the server running and the address right?", "connection", status,
                          sent=False)
    if name in ("Timeout", "APITimeoutError", "ReadTimeout", "TimeoutException") or "timed out" in lowered or "timeout" in name.lower():
        return ModelError(f"{config.model} did not answer within {config.timeout:g} s; try again, or raise the timeout (LAB_TIMEOUT).", "timeout", status)
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
    if name == "ContextWindowExceededError":
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


def supports_response_schema(model: str) -> bool:
    """Whether litellm says `model` takes a JSON schema natively (used by the judge)."""
    litellm = load_litellm()
    try:
        return bool(litellm.supports_response_schema(model=model))
    except Exception:
        return False
