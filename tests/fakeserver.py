"""A small OpenAI-compatible chat server for recording cassettes and for live loopback tests.

It binds to 127.0.0.1 only, answers `POST /v1/chat/completions` (streamed as server-sent events
or not) and `GET /v1/models` with the shapes OpenAI documents, and stops by itself after
`idle_timeout` seconds without a request.

What it answers depends on the model name, so a test can pick a behaviour:
  echo           repeats the last user message
  scripted       the first rule whose text occurs in the conversation, else echoes
  flaky-429      429 with Retry-After: 0 on the first request of a conversation, then echoes
  fail-500       always 500
  slow           waits `slow_seconds` before answering (for timeouts)
  malformed      a 200 whose body is not JSON (or, streamed, a broken event)
  unauthorized   401 with OpenAI's error body
Run by hand:  python tests/fakeserver.py --port 8000   (then --api-base http://127.0.0.1:8000/v1)
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeProvider:
    def __init__(self, port: int = 0, rules: list[tuple[str, str]] | None = None, slow_seconds: float = 3.0, idle_timeout: float = 300.0):
        self.rules = list(rules or [])
        self.slow_seconds = slow_seconds
        self.idle_timeout = idle_timeout
        self.requests: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._last = time.monotonic()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                provider._last = time.monotonic()
                if self.path.rstrip("/").endswith("/models"):
                    names = ["echo", "scripted", "flaky-429", "fail-500", "slow", "malformed", "unauthorized"]
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
                provider.requests.append(body)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                    return
                provider._answer(self, body)

            def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
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
        if model == "unauthorized":
            handler._json(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}})
            return
        if model == "flaky-429" and key not in self._seen:
            self._seen.add(key)
            handler._json(429, {"error": {"message": "Rate limit reached. Please try again.", "type": "rate_limit_error"}}, {"retry-after": "0"})
            return
        if model == "slow":
            time.sleep(self.slow_seconds)
        text = self.reply_for(body)
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in body.get("messages") or [])
        completion_tokens = len(text.split())
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
        created = 1_700_000_000
        if model == "malformed" and not body.get("stream"):
            data = b"<html>502 Bad Gateway</html>"
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        if not body.get("stream"):
            handler._json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
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
        event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        if model == "malformed":
            event(b"{not json")
            return
        words = text.split(" ")
        pieces = [" ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)] or [""]
        for piece in pieces:
            event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            event({**base, "choices": [], "usage": usage})
        handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()


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
