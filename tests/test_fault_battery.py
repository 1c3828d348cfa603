"""The fault battery: `lab run` against a server scripted to fail in each way (issue 9).

For each fault: the message the learner reads, the exit code, how many requests were made (the
retries), and the attempt the store keeps (its status, its reason, the learner's prompt). It runs
against the fake provider live on 127.0.0.1, because the request count is the server's to tell and a
timeout or a dead port cannot be replayed; each fault's exchange is also in a cassette in test_llm.py.
"""

from __future__ import annotations

import io
import sqlite3
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.settings import paths

PROMPT = "Say {{ word }} back."
EXERCISE = minimal(id="faults/one", vars={"word": "hello"},
                   rubric={"criteria": [{"id": "says-it", "check": "icontains", "value": "hello"}]})

WHERE = "{url}"
BATTERY = [
    # model, exit code, requests (retries included), stored status, message (None: graded, no error)
    ("echo", 0, 1, "graded", None),
    ("flaky-429", 0, 2, "graded", None),  # one 429 with Retry-After: 0, then the answer
    ("huge", 1, 1, "graded", None),  # a 1 MB answer is graded like any other
    ("unauthorized", 2, 1, "failed", "{url} refused the API key for openai/unauthorized (401); check the key in your environment."),
    ("forbidden", 2, 1, "failed", "{url} denied access to openai/forbidden (403); your key may not have access to this model."),
    ("missing-model", 2, 1, "failed", "{url} does not know the model 'openai/missing-model' (404); check the model name."),
    ("limit-429", 2, 3, "failed", "{url} is rate-limiting requests (429) and retries did not get through; wait a minute and send again."),
    ("busy-429", 2, 3, "failed", "{url} is rate-limiting requests (429) and retries did not get through; wait a minute and send again."),
    ("fail-500", 2, 3, "failed", "{url} had an internal error (500) and retries did not help; try again later."),
    ("unavailable", 2, 3, "failed", "{url} is overloaded or unavailable (503) and retries did not help; try again in a few minutes."),
    ("slow", 2, 1, "failed", "openai/slow did not answer within 1 s; try again, or raise the timeout (LAB_TIMEOUT)."),
    ("not-json", 2, 1, "failed", "{url} sent an answer that could not be read as a chat completion; check that --api-base points at an OpenAI-compatible /v1 endpoint."),
    ("malformed", 2, 1, "failed", "{url} sent an answer that could not be read as a chat completion; check that --api-base points at an OpenAI-compatible /v1 endpoint."),
    ("empty-choices", 2, 1, "failed", "{url} sent a completion with no answer in it (its `choices` list is empty); send again, or check the server."),
    ("cut-stream", 2, 1, "failed", "{url} closed the connection before the answer was finished; nothing was graded, send again."),
    ("dead-port", 2, 0, "not_sent", "Could not reach {url}: is the server running and the address right?"),
]


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAB_MAX_RETRIES", "2")
    monkeypatch.setenv("LAB_CONCURRENCY", "1")
    root = tmp_path / "course"
    write_exercise(root, "faults/one.j2", EXERCISE)
    return root


@pytest.mark.parametrize(("model", "code", "requests", "status", "message"), BATTERY, ids=[row[0] for row in BATTERY])
def test_each_fault_is_a_message_an_exit_code_and_a_kept_attempt(live_provider, course: Path, model: str, code: int,
                                                                 requests: int, status: str, message: str | None):
    url = "http://127.0.0.1:9/v1" if model == "dead-port" else live_provider.url
    before = len(live_provider.requests)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        got = main(["run", "faults/one", "--exercises", str(course), "--prompt", PROMPT, "--model", f"openai/{model}",
                    "--api-base", url, "--timeout", "1"])
    assert got == code, err.getvalue()
    assert len(live_provider.requests) - before == requests
    expected = None if message is None else message.format(url=url)
    if expected is None:
        assert "lab:" not in err.getvalue()
    else:
        assert err.getvalue() == f"lab: {expected}\n"
    with sqlite3.connect(paths.database_file()) as db:
        rows = db.execute("SELECT status, error, prompt FROM attempts WHERE exercise_id = 'faults/one'").fetchall()
    assert rows == [(status, expected, PROMPT)]
