"""Model calls: litellm -> HTTP -> cassette (replayed), plus what no cassette can hold (live, loopback only)."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from lab.errors import CancelledError, ModelError
from lab.models import llm

HELLO = [{"role": "user", "content": "one two three four five"}]


def config(api_base: str, model: str = "openai/echo", **overrides: object) -> llm.CallConfig:
    settings = {"timeout": 10.0, "max_retries": 0, "backoff": 0.0}
    settings.update(overrides)
    return llm.CallConfig(model, api_base, **settings)  # type: ignore[arg-type]


def calls(cassette) -> int:
    """Requests answered from the cassette in replay, or sent to the server while recording."""
    return cassette.play_count if cassette.write_protected else len(cassette.requests)


# ------------------------------------------------------------------ answers


def test_non_streamed_completion_has_text_usage_and_zero_cost(cassette, api_base):
    done = llm.complete(HELLO, config(api_base))
    assert done.text == "one two three four five"
    assert (done.prompt_tokens, done.completion_tokens) == (5, 5)
    assert done.cost_usd == 0.0  # "echo" has no price: a local model costs nothing
    assert done.retries == 0


def test_streamed_completion_delivers_deltas_in_order(cassette, api_base):
    deltas: list[str] = []
    done = llm.complete([{"role": "user", "content": "a b c d e f g h"}], config(api_base), on_delta=deltas.append)
    assert len(deltas) == 3  # the server sends three words per event
    assert "".join(deltas) == done.text == "a b c d e f g h"
    assert (done.prompt_tokens, done.completion_tokens) == (8, 8)


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_priced_model_cost_comes_from_litellm_price_map(cassette, api_base, streamed):
    litellm = llm.load_litellm()
    price = litellm.model_cost["gpt-4o-mini"]
    done = llm.complete(HELLO, config(api_base, "openai/gpt-4o-mini"), on_delta=(lambda d: None) if streamed else None)
    expected = 5 * price["input_cost_per_token"] + 5 * price["output_cost_per_token"]
    assert done.cost_usd == pytest.approx(expected)
    assert done.cost_usd > 0


def test_call_settings_reach_the_request(cassette, api_base):
    llm.complete(HELLO, config(api_base, params={"temperature": 0, "max_tokens": 7}))
    sent = json.loads(cassette.requests[0].body)  # replay matches on the body, so this is what was sent
    assert (sent["model"], sent["temperature"], sent["max_tokens"]) == ("echo", 0, 7)
    assert "stream" not in sent


# ------------------------------------------------------------------ retries and failures


def test_429_is_retried_then_succeeds(cassette, api_base):
    done = llm.complete(HELLO, config(api_base, "openai/flaky-429", max_retries=2))
    assert done.text == "one two three four five"
    assert done.retries == 1
    assert calls(cassette) == 2


def test_429_without_retries_left_is_a_rate_limit_error(cassette, api_base):
    with pytest.raises(ModelError) as caught:
        llm.complete(HELLO, config(api_base, "openai/flaky-429", max_retries=0))
    assert caught.value.kind == "rate_limit" and caught.value.status == 429
    assert str(caught.value) == f"{api_base} is rate-limiting requests (429) and retries did not get through; wait a minute and send again."


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_500_after_retries_is_a_server_error(cassette, api_base, streamed):
    with pytest.raises(ModelError) as caught:
        llm.complete(HELLO, config(api_base, "openai/fail-500", max_retries=2), on_delta=(lambda d: None) if streamed else None)
    assert caught.value.kind == "server" and caught.value.status == 500
    assert str(caught.value) == f"{api_base} had an internal error (500) and retries did not help; try again later."
    assert calls(cassette) == 3  # the first call and two retries


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_malformed_body_is_one_clear_sentence_and_not_retried(cassette, api_base, streamed):
    with pytest.raises(ModelError) as caught:
        llm.complete(HELLO, config(api_base, "openai/malformed", max_retries=2), on_delta=(lambda d: None) if streamed else None)
    assert caught.value.kind == "malformed"
    assert str(caught.value) == (f"{api_base} sent an answer that could not be read as a chat completion; "
                                 "check that --api-base points at an OpenAI-compatible /v1 endpoint.")
    assert calls(cassette) == 1  # an unreadable answer does not get better by asking again


NOT_A_COMPLETION = "sent an answer that could not be read as a chat completion; check that --api-base points at an OpenAI-compatible /v1 endpoint."


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_html_body_is_malformed_not_an_empty_answer(cassette, api_base, streamed):
    with pytest.raises(ModelError) as caught:
        llm.complete(HELLO, config(api_base, "openai/not-json", max_retries=2), on_delta=(lambda d: None) if streamed else None)
    assert caught.value.kind == "malformed"
    assert str(caught.value) == f"{api_base} {NOT_A_COMPLETION}"
    assert calls(cassette) == 1


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_empty_choices_is_malformed_not_an_empty_answer(cassette, api_base, streamed):
    with pytest.raises(ModelError) as caught:
        llm.complete(HELLO, config(api_base, "openai/empty-choices", max_retries=2), on_delta=(lambda d: None) if streamed else None)
    assert caught.value.kind == "malformed"
    assert str(caught.value) == f"{api_base} sent a completion with no answer in it (its `choices` list is empty); send again, or check the server."
    assert calls(cassette) == 1


def test_stream_cut_mid_answer_is_not_an_answer(cassette, api_base):
    deltas: list[str] = []
    with pytest.raises(ModelError) as caught:
        llm.complete(HELLO, config(api_base, "openai/cut-stream", max_retries=2), on_delta=deltas.append)
    assert caught.value.kind == "malformed"
    assert str(caught.value) == f"{api_base} closed the connection before the answer was finished; nothing was graded, send again."
    assert calls(cassette) == 1  # the learner saw part of an answer stream; a retry would print it twice


def test_401_says_the_key_was_refused(cassette, api_base):
    with pytest.raises(ModelError) as caught:
        llm.complete(HELLO, config(api_base, "openai/unauthorized", max_retries=2))
    assert caught.value.kind == "auth" and caught.value.status == 401
    assert str(caught.value) == f"{api_base} refused the API key for openai/unauthorized (401); check the key in your environment."
    assert calls(cassette) == 1


def test_hosted_model_without_key_fails_before_any_network():
    with pytest.raises(ModelError) as caught:
        llm.complete(HELLO, llm.CallConfig("openai/gpt-4o-mini"))
    assert caught.value.kind == "auth"
    assert str(caught.value) == "No API key for openai/gpt-4o-mini: set OPENAI_API_KEY in your environment (keys are never stored)."


@pytest.mark.parametrize(("model", "variable"), [("anthropic/claude-3-5-haiku-latest", "ANTHROPIC_API_KEY"),
                                                 ("gemini/gemini-2.0-flash", "GEMINI_API_KEY"), ("gpt-4o", "OPENAI_API_KEY")])
def test_missing_key_names_the_provider_variable(model, variable):
    assert llm.missing_key(llm.CallConfig(model)) == variable


def test_local_server_needs_no_key():
    assert llm.missing_key(llm.CallConfig("openai/llama3", api_base="http://127.0.0.1:11434/v1")) is None
    assert llm.missing_key(llm.CallConfig("ollama_chat/llama3.2")) is None


# ------------------------------------------------------------------ live: what a cassette cannot hold


@pytest.mark.live
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_timeout_is_reported_with_the_limit(live_provider, streamed):
    with pytest.raises(ModelError) as caught:  # `slow` answers long after the 0.3 s (the fixture's slow_seconds)
        llm.complete(HELLO, config(live_provider.url, "openai/slow", timeout=0.3, max_retries=0), on_delta=(lambda d: None) if streamed else None)
    assert caught.value.kind == "timeout"
    assert str(caught.value) == "openai/slow did not answer within 0.3 s; try again, or raise the timeout (LAB_TIMEOUT)."


@pytest.mark.live
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_connection_refused_asks_whether_the_server_runs(streamed):
    with socket.socket() as probe:  # a port that was free a moment ago and has nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ModelError) as caught:
        llm.complete(HELLO, config(base, max_retries=0), on_delta=(lambda d: None) if streamed else None)
    assert caught.value.kind == "connection"
    assert str(caught.value) == f"Could not reach {base}: is the server running and the address right?"


@pytest.mark.live
def test_cancel_during_backoff_stops_the_retries(live_provider):
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()  # the backoff below is 30 s: only cancelling ends it early
    with pytest.raises(CancelledError):
        llm.complete(HELLO, config(live_provider.url, "openai/fail-500", max_retries=5, backoff=30), cancel=cancel)
    assert len(live_provider.requests) == 1


def test_cancelled_before_the_call_sends_nothing():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError) as caught:  # a request would meet a closed port: ModelError, not this
        llm.complete(HELLO, config("http://127.0.0.1:9/v1"), cancel=cancel)
    assert str(caught.value) == "The run was cancelled."


# ------------------------------------------------------------------ model names, checked before any call


@pytest.mark.parametrize(("model", "expected"), [
    ("foo/bar", "'foo/bar' is not a model litellm knows: there is no provider 'foo'; litellm names models provider/model, "
                "e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest or ollama_chat/llama3.2."),
    ("haiku", "'haiku' is not a model litellm knows: it needs its provider in front; litellm names models provider/model, "
              "e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest or ollama_chat/llama3.2."),
])
def test_bad_model_name_is_one_sentence_before_any_call(model, expected, capsys):
    cancel = threading.Event()  # a request would meet a closed port and say "Could not reach", not this
    with pytest.raises(ModelError) as caught:
        llm.complete(HELLO, config("http://127.0.0.1:9/v1", model), cancel=cancel)
    assert caught.value.kind == "bad_model"
    assert str(caught.value) == expected
    assert "Provider List" not in capsys.readouterr().out


def test_litellm_provider_error_is_described_as_a_bad_name_not_a_rejection():
    litellm = llm.load_litellm()
    try:
        litellm.get_llm_provider("foo/bar")
    except Exception as exc:
        error = llm.describe_error(exc, llm.CallConfig("foo/bar"))
    assert error.kind == "bad_model"
    assert str(error).startswith("'foo/bar' is not a model litellm knows; litellm names models provider/model")


def test_a_hosted_api_out_of_reach_is_not_blamed_on_a_server_of_ours():
    error = llm.describe_error(ConnectionError("Connection error."), llm.CallConfig("anthropic/claude-3-5-haiku-latest"))
    assert str(error) == ("Could not reach anthropic's API for anthropic/claude-3-5-haiku-latest: check your internet connection "
                          "(or a proxy or firewall in the way) and send again.")
    assert error.kind == "connection"


def test_only_the_part_of_the_import_inside_an_attempt_is_taken_off_its_time(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(llm, "_litellm", object())
    monkeypatch.setattr(llm, "_load_seconds", 3.0)
    monkeypatch.setattr(llm, "_loaded_at", 10.0)
    assert llm.load_overlap(5.0) == 3.0  # the attempt began before the import: all of it
    assert llm.load_overlap(8.0) == 2.0  # the TUI's background import was under way: the rest of it
    assert llm.load_overlap(11.0) == 0.0  # loaded before the attempt: nothing
    monkeypatch.setattr(llm, "_litellm", None)
    assert llm.load_overlap(0.0) == 0.0


def test_a_completion_read_from_an_openai_compatible_server_keeps_why_it_stopped_and_refuses_other_shapes():
    """`lab grade`'s direct client: a cut-off answer stays cut off (the response cache keeps its reason for the
    next `lab run`), and a 200 whose body is not a chat completion is one sentence, never a Python error."""
    from lab.models.llm import _Malformed, _read_completion, describe_error
    from lab.settings.calls import CallConfig

    cut = {"choices": [{"message": {"content": "one two"}, "finish_reason": "length"}], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
    assert _read_completion(cut) == ("one two", "length", (), 5, 2)
    for body in ({"choices": ["x"]}, {"choices": [{"message": {"content": ["a"]}}]}, {"choices": [{"message": {}}], "usage": [1]},
                 {"choices": [{"message": {"content": "a"}}], "usage": {"prompt_tokens": "many"}}, {"choices": {"a": 1}}):
        with pytest.raises(_Malformed) as caught:
            _read_completion(body)
        error = describe_error(caught.value, CallConfig("openai/m", "http://127.0.0.1:9/v1"))
        assert error.kind == "malformed" and str(error).startswith("http://127.0.0.1:9/v1 sent ")
