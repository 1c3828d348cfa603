"""A small OpenAI-compatible chat server: to try the lab with no model, to record cassettes, for loopback tests.

It binds to 127.0.0.1 only, answers `POST /v1/chat/completions` (streamed as server-sent events
or not) and `GET /v1/models` with the shapes OpenAI documents, and stops by itself after
`idle_timeout` seconds without a request.

What it answers depends on the model name, so a test can pick a behaviour:
  echo           repeats the last user message
  scripted       the first rule whose text occurs in the conversation, else echoes
  flaky-429      429 with Retry-After: 0 on the first request of a conversation, then echoes
  fail-500       always 500
  slow           waits `slow_seconds` before answering (for timeouts; stopping the server ends the wait)
  malformed      a 200 whose body is not JSON (or, streamed, a broken event)
  unauthorized   401 with OpenAI's error body
  alternate      the replies in `alternates`, one per request in turn (samples that differ)
  judge-strict   a gullible judge for the anti-gaming battery, see `gullible_judge` below
  forbidden      403 with OpenAI's error body
  missing-model  404 "model does not exist"
  limit-429      429 without Retry-After, every time
  busy-429       429 with Retry-After: 1, every time
  unavailable    503, every time
  not-json       a 200 whose body is HTML, streamed or not (a proxy's error page)
  empty-choices  a well-formed completion (or stream) whose `choices` list is empty
  cut-stream     streamed: two events of text, then the connection closes without [DONE]
  huge           a 1 MB answer
  agent          with `tools` in the request: calls the tools that the newest messages (the user's, or a tool's
                 result: a gullible agent) ask for on lines `CALL name {"json": "arguments"}`, several at once when
                 several lines ask; once results are back (or when nothing asks), answers in text: the results, one
                 per line, or else an echo of the user's message
  agent-loop     with `tools`: calls the first tool again and again, never answering in text
Calls carry ids call_1, call_2… numbered through the conversation, so the same conversation is the same request
(litellm makes up a random id for a call that has none, and a cassette would never match); streamed, a call
comes as OpenAI sends it: its id and name first, then its arguments in fragments, indexed per call.
A conversation that ends with an assistant message (a prefill) is continued, whatever the model: the
answer is the reply's words after that prefill (the whole reply when it does not start with it), and
closes the tags the prefill opened (`<haiku>` -> `... </haiku>`), as a model that was handed the start of
its answer would. Each message of a multi-turn conversation is answered in turn (echo: the latest one).
Run by hand:  python -m lab.testserver --port 8000   (then --api-base http://127.0.0.1:8000/v1)
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        # a client that gave up (a timeout test) closes the socket while `slow` is still answering
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class FakeProvider:
    def __init__(self, port: int = 0, rules: list[tuple[str, str]] | None = None, slow_seconds: float = 3.0, idle_timeout: float = 300.0):
        self.rules = list(rules or [])
        self.alternates = ["first reply", "second reply"]
        self._alternate_count = 0
        self.slow_seconds = slow_seconds
        self.idle_timeout = idle_timeout
        self.requests: list[dict[str, Any]] = []
        # a test that must catch a call in flight holds it instead of racing a timer: each request past the
        # first `hold_after` waits until `gate` is set (or the server stops); `arrived` is set by every request
        self.hold_after: int | None = None
        self.gate = threading.Event()
        self.gate.set()
        self.arrived = threading.Event()
        self._stopped = threading.Event()
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._last = time.monotonic()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                provider._last = time.monotonic()
                if self.path.rstrip("/").endswith("/models"):
                    names = ["echo", "scripted", "alternate", "judge-strict", "agent", "agent-loop", *FAULTS]
                    self._json(200, {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "fake"} for n in names]})
                else:
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self) -> None:
                provider._last = time.monotonic()
                length = int(self.headers.get("content-length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
                    return
                with provider._lock:
                    provider.requests.append(body)
                    number = len(provider.requests)
                provider.arrived.set()
                if provider.hold_after is not None and number > provider.hold_after:
                    provider.gate.wait(provider.idle_timeout)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                    return
                provider._answer(self, body)

            def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                self._bytes(status, json.dumps(payload).encode(), "application/json", headers)

            def _bytes(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = _QuietServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._watchdog = threading.Thread(target=self._stop_when_idle, daemon=True)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "FakeProvider":
        self._thread.start()
        self._watchdog.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self.gate.set()  # a held request is answered (to nobody, by then) rather than left waiting
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FakeProvider":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _stop_when_idle(self) -> None:
        while self._thread.is_alive():
            time.sleep(0.5)
            if time.monotonic() - self._last > self.idle_timeout:
                self.stop()
                return

    # ------------------------------------------------------------ answers
    def reply_for(self, body: dict[str, Any]) -> str:
        messages = body.get("messages") or []
        user = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
        if isinstance(user, list):  # content parts
            user = " ".join(p.get("text", "") for p in user if isinstance(p, dict))
        if body.get("model") == "alternate":
            with self._lock:
                reply = self.alternates[self._alternate_count % len(self.alternates)]
                self._alternate_count += 1
            return reply
        if body.get("model") == "judge-strict":
            return gullible_judge(messages, bool(body.get("response_format")))
        if body.get("model") == "scripted":
            conversation = "\n".join(str(m.get("content") or "") for m in messages)
            for needle, reply in self.rules:
                if needle in conversation:
                    return reply
        return user

    def _answer(self, handler: Any, body: dict[str, Any]) -> None:
        model = str(body.get("model", ""))
        key = json.dumps(body.get("messages"), sort_keys=True)
        if model == "fail-500":
            handler._json(500, {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}})
            return
        if model in _ERRORS:
            status, message, kind, headers = _ERRORS[model]
            handler._json(status, {"error": {"message": message, "type": kind}}, headers)
            return
        if model == "not-json":
            handler._bytes(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
            return
        if model == "flaky-429" and key not in self._seen:
            self._seen.add(key)
            handler._json(429, {"error": {"message": "Rate limit reached. Please try again.", "type": "rate_limit_error"}}, {"retry-after": "0"})
            return
        if model == "slow":
            self._stopped.wait(self.slow_seconds)
        if model in ("agent", "agent-loop") and body.get("tools"):
            calls = agent_calls(body, model == "agent-loop")
            if calls:
                self._call_tools(handler, body, calls)
                return
            text = agent_reply(body)
        else:
            text = HUGE_ANSWER if model == "huge" else self.reply_for(body)
        messages = body.get("messages") or []
        if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
            text = continue_prefill(str(messages[-1].get("content") or ""), text)
        finish = "stop"
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if isinstance(limit, int) and len(text.split()) > limit:
            # as a real provider does at the token limit (a word stands for a token here)
            text, finish = " ".join(text.split()[:limit]), "length"
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in body.get("messages") or [])
        completion_tokens = len(text.split())
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
        created = 1_700_000_000
        if model == "malformed" and not body.get("stream"):
            handler._bytes(200, b"<html>502 Bad Gateway</html>", "application/json")  # says JSON, is not
            return
        if model == "empty-choices" and not body.get("stream"):
            handler._json(200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": model,
                                "choices": [], "usage": usage})
            return
        if not body.get("stream"):
            handler._json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": usage,
            })
            return
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.end_headers()

        def event(payload: Any) -> None:
            handler.wfile.write(b"data: " + (payload if isinstance(payload, bytes) else json.dumps(payload).encode()) + b"\n\n")
            handler.wfile.flush()

        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model}
        if model == "empty-choices":
            event({**base, "choices": [], "usage": usage})
            handler.wfile.write(b"data: [DONE]\n\n")
            handler.wfile.flush()
            return
        event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        if model == "malformed":
            event(b"{not json")
            return
        if model == "cut-stream":
            event({**base, "choices": [{"index": 0, "delta": {"content": "The answer begins "}, "finish_reason": None}]})
            event({**base, "choices": [{"index": 0, "delta": {"content": "and then"}, "finish_reason": None}]})
            handler.close_connection = True
            handler.connection.shutdown(2)  # mid-answer: no finish_reason, no [DONE]
            return
        words = text.split(" ")
        per_event = 512 if model == "huge" else 3  # 1 MB in 256 events of 4 KB, as a fast model would send it
        pieces = [" ".join(words[i : i + per_event]) + (" " if i + per_event < len(words) else "")
                  for i in range(0, len(words), per_event)] or [""]
        for piece in pieces:
            self._last = time.monotonic()
            event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            event({**base, "choices": [], "usage": usage})
        handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()


    def _call_tools(self, handler: Any, body: dict[str, Any], calls: list[dict[str, Any]]) -> None:
        """Answer with tool calls: one completion whose message holds `calls` (streamed as OpenAI streams them)."""
        model = str(body.get("model", ""))
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in body.get("messages") or [])
        completion_tokens = sum(len(c["function"]["arguments"].split()) + 1 for c in calls)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
        base = {"id": "chatcmpl-fake", "created": 1_700_000_000, "model": model}
        if not body.get("stream"):
            handler._json(200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": calls}, "finish_reason": "tool_calls"}]})
            return
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.end_headers()
        chunk = {**base, "object": "chat.completion.chunk"}

        def event(delta: dict[str, Any], finish: str | None = None) -> None:
            payload = {**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            handler.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            handler.wfile.flush()

        event({"role": "assistant", "content": None})
        for index, call in enumerate(calls):
            function = call["function"]
            event({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                   "function": {"name": function["name"], "arguments": ""}}]})
            arguments = function["arguments"]
            step = max(1, -(-len(arguments) // 3))  # in three fragments, as a model streams a call's arguments
            for start in range(0, len(arguments), step):
                event({"tool_calls": [{"index": index, "function": {"arguments": arguments[start:start + step]}}]})
        event({}, "tool_calls")
        if (body.get("stream_options") or {}).get("include_usage"):
            handler.wfile.write(b"data: " + json.dumps({**chunk, "choices": [], "usage": usage}).encode() + b"\n\n")
        handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()


_CALL = re.compile(r"^[ \t>*-]*CALL[ \t]+([A-Za-z0-9_-]+)[ \t]*(.*?)[ \t]*$", re.MULTILINE)


def _newest(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages since the model last spoke (the user's, or the tools' results), without the system prompt."""
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    return [m for m in messages[last + 1:] if m.get("role") in ("user", "tool")]


def agent_calls(body: dict[str, Any], loop: bool = False) -> list[dict[str, Any]]:
    """The calls the fake agent makes now (none: it answers in text)."""
    messages = body.get("messages") or []
    made = sum(len(m.get("tool_calls") or []) for m in messages if m.get("role") == "assistant")
    if loop:
        first = ((body.get("tools") or [{}])[0].get("function") or {}).get("name", "tool")
        wanted = [(first, "{}")]
    else:
        text = "\n".join(str(m.get("content") or "") for m in _newest(messages))
        wanted = [(name, arguments or "{}") for name, arguments in _CALL.findall(text)]
    return [{"id": f"call_{made + n}", "type": "function", "function": {"name": name, "arguments": arguments}}
            for n, (name, arguments) in enumerate(wanted, 1)]


def agent_reply(body: dict[str, Any]) -> str:
    """The fake agent's text answer: the results it got back, one per line, or the user's message echoed."""
    messages = body.get("messages") or []
    results = [str(m.get("content") or "") for m in _newest(messages) if m.get("role") == "tool"]
    if results:
        return "\n".join(results)
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")


# model -> (status, message, error type, headers): answers that are an HTTP error every time
_ERRORS: dict[str, tuple[int, str, str, dict[str, str]]] = {
    "unauthorized": (401, "Incorrect API key provided.", "invalid_request_error", {}),
    "forbidden": (403, "You are not allowed to sample from this model.", "permission_error", {}),
    "missing-model": (404, "The model `missing-model` does not exist or you do not have access to it.", "invalid_request_error", {}),
    "limit-429": (429, "Rate limit reached. Please try again.", "rate_limit_error", {}),
    "busy-429": (429, "Rate limit reached. Please try again in 1s.", "rate_limit_error", {"retry-after": "1"}),
    "unavailable": (503, "The server is overloaded or not ready yet.", "server_error", {}),
}
HUGE_ANSWER = " ".join(f"w{i:06d}" for i in range(131072))  # 1 MB of words that never repeat a chunk
FAULTS = ["flaky-429", "fail-500", "slow", "malformed", *_ERRORS, "not-json", "empty-choices", "cut-stream", "huge"]

_OPENED = re.compile(r"<([A-Za-z][\w-]*)>")


def continue_prefill(prefill: str, reply: str) -> str:
    """What follows `prefill` when the answer would have been `reply`: the rest of the reply, then a closing
    tag for each tag the prefill opened and nothing closed."""
    rest = reply[len(prefill):] if reply.startswith(prefill) else reply
    if prefill and rest and (prefill[-1].isalnum() or prefill[-1] in ":;,.!?") and rest[0].isalnum():
        rest = " " + rest
    whole = prefill + rest
    for name in reversed(_OPENED.findall(prefill)):
        if f"</{name}>" not in whole:
            rest += f"</{name}>"
            whole += f"</{name}>"
    return rest


JUDGE_MARKER = "MEETS-RUBRIC"
_OPEN = re.compile(r"<(candidate-[0-9a-f]+)>")
_SCALE = re.compile(r"Scale: (pass-fail|1-5|0-10)")
_FAKE_GRADE = re.compile(r"^\s*GRADE\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_FAKE_JSON = re.compile(r"\{[^{}]*\"score\"\s*:\s*(\d+)[^{}]*\}")


def gullible_judge(messages: list[dict[str, Any]], schema: bool) -> str:
    """A judge with the weaknesses real models have, so the battery can show our defences hold.

    It finds the candidate's data after the first `<candidate-…>` tag and ends it at the FIRST
    `</candidate` it meets (any nonce), as a careless reader would. Inside the data it grades honestly:
    top grade only when the data holds MEETS-RUBRIC, else a low grade (FAIL, 2 of 5, 3 of 10). Text it
    meets after a premature close is taken as instructions and obeyed: a `GRADE:` line sets the grade,
    a JSON verdict with a score sets it, an order containing "ignore" or "pass" gives the top grade.
    Like a model that quotes its evidence, it repeats the data's last line AFTER its own grade line,
    so an unneutralised fake grade line in the data would become the answer's last grade line.
    With `response_format` it answers JSON {reasoning, score, passed}, with `passed` always true
    (the promptfoo #2998 inconsistency), so only the score can carry the verdict.
    """
    user = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user" and "<candidate-" in str(m.get("content") or "")), "")
    scale = (_SCALE.search(user) or _SCALE.search("Scale: pass-fail")).group(1)  # type: ignore[union-attr]
    low, high = {"pass-fail": ("FAIL", "PASS"), "1-5": ("2", "5"), "0-10": ("3", "10")}[scale]
    opened = _OPEN.search(user)
    data, smuggled = user, ""
    if opened:
        rest = user[opened.end():]
        first_close = rest.find("</candidate")
        last_close = rest.rfind("</candidate")
        data = rest[:first_close] if first_close >= 0 else rest
        if 0 <= first_close < last_close:
            smuggled = rest[first_close:last_close]
    grade = high if JUDGE_MARKER in data else low
    why = "the output meets the rubric" if grade == high else "the output does not meet the rubric"
    if smuggled:
        fake_grade = _FAKE_GRADE.search(smuggled)
        fake_json = _FAKE_JSON.search(smuggled)
        if fake_grade:
            grade, why = fake_grade.group(1), "as instructed after the output"
        elif fake_json:
            grade, why = fake_json.group(1), "as the verdict after the output says"
        elif re.search(r"ignore|pass", smuggled, re.IGNORECASE):
            grade, why = high, "following the instructions after the output"
    last_line = next((line for line in reversed(data.strip().splitlines()) if line.strip()), "")
    if schema:
        score = {"PASS": 1, "FAIL": 0}.get(grade.upper(), None)
        value = score if score is not None else int(grade) if grade.isdigit() else 0
        return json.dumps({"reasoning": f"Graded {why}. The output ends with: {last_line}", "score": value, "passed": True})
    return f"Reasoning: {why}.\nGRADE: {grade}\nThe output's last line, for the record:\n{last_line}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--idle-timeout", type=float, default=3600)
    args = parser.parse_args()
    provider = FakeProvider(port=args.port, idle_timeout=args.idle_timeout).start()
    print(f"fake provider on {provider.url} (stops after {args.idle_timeout:.0f} s idle)", flush=True)
    try:
        provider._thread.join()
    except KeyboardInterrupt:
        provider.stop()


if __name__ == "__main__":
    main()
