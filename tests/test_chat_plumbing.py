"""Every message of a chat, underneath: the prefix marker providers need, litellm's word on prefill, the
test server continuing a prefill, the stores' new columns, old submissions' keys, and `lab new --kind`."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from lab.classroom.submissions import Submission
from lab.cli import main
from lab.format.skeleton import KINDS
from lab.models import llm
from lab.practice.store import MIGRATIONS, SCHEMA_VERSION, Store
from lab.testserver import FakeProvider, continue_prefill

PREFILLED = [{"role": "user", "content": "Answer in JSON."}, {"role": "assistant", "content": "{"}]


@pytest.mark.parametrize(("model", "marked"), [("mistral/mistral-small-latest", True), ("deepseek/deepseek-chat", True),
                                               ("anthropic/claude-haiku-4-5", False), ("openai/gpt-4o-mini", False)])
def test_the_prefix_marker_goes_on_the_prefill_only_for_providers_that_need_it(model: str, marked: bool):
    sent = llm.with_prefill_marker(PREFILLED, model)
    assert sent[-1] == ({"role": "assistant", "content": "{", "prefix": True} if marked else PREFILLED[-1])
    assert sent[0] == PREFILLED[0] and PREFILLED[-1] == {"role": "assistant", "content": "{"}  # the caller's list is left alone
    assert llm.with_prefill_marker(PREFILLED[:1], model) == PREFILLED[:1]  # no prefill, no marker


def test_litellm_says_which_models_continue_a_prefill():
    assert llm.supports_prefill("deepseek/deepseek-chat") is True
    assert llm.supports_prefill("openai/gpt-4o-mini") is False
    assert llm.supports_prefill("openai/echo") is False  # a name litellm does not list: no exception, just no


def test_the_test_server_continues_a_prefill():
    assert continue_prefill("<haiku>", "Soft paws") == "Soft paws</haiku>"
    assert continue_prefill("Answer:", "B") == " B"
    assert continue_prefill("Say", "Say hello") == " hello"
    with FakeProvider() as server:
        import urllib.request

        body = json.dumps({"model": "echo", "messages": [{"role": "user", "content": "a cat"},
                                                         {"role": "assistant", "content": "<poem>"}]}).encode()
        request = urllib.request.Request(server.url + "/chat/completions", body, {"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())["choices"][0]["message"]["content"]
    assert answer == "a cat</poem>"


def test_a_schema_3_progress_database_gains_the_texts_columns(tmp_path: Path):
    path = tmp_path / "lab.db"
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:3]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 3")
        db.execute("INSERT INTO attempts (exercise_id, exercise_hash, track, model, prompt, status, started_at)"
                   " VALUES ('x', 'h', 't', 'm', 'kept', 'graded', '2026-01-01T00:00:00+00:00')")
        db.execute("INSERT INTO drafts (exercise_id, text, updated_at) VALUES ('x', 'old draft', '2026-01-01T00:00:00+00:00')")
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 4
        [old] = store.attempts()
        assert (old.prompt, old.texts, old.all_texts) == ("kept", None, {"prompt": "kept"})
        assert store.draft_texts("x") == {"prompt": "old draft"}
        store.save_draft("y", "p", {"system": "s", "prompt": "p"})
        assert (store.draft("y"), store.draft_texts("y")) == ("p", {"system": "s", "prompt": "p"})
        attempt_id = store.begin_attempt(exercise_id="y", exercise_hash="h", track="t", model="m", api_base=None, prompt="p",
                                         texts={"system": "s", "prompt": "p"})
        assert store.attempt(attempt_id).texts == {"system": "s", "prompt": "p"}


def test_a_submission_of_one_text_keeps_the_key_it_always_had(tmp_path: Path):
    one = Submission("ana", "t/x", "Say hi", tmp_path / "a.jsonl", 1, created="2026-01-01T00:00:00+00:00")
    before = [one.learner, one.exercise, one.prompt, None, None, one.created, None, None, None, 0]
    assert one.key == hashlib.sha256(json.dumps(before, ensure_ascii=False).encode()).hexdigest()[:32]
    several = Submission("ana", "t/x", "Say hi", tmp_path / "a.jsonl", 1, created=one.created, texts={"system": "s", "prompt": "Say hi"})
    assert several.key != one.key and several.learner_texts == {"system": "s", "prompt": "Say hi"} and one.learner_texts == "Say hi"


@pytest.mark.parametrize("kind", KINDS)
def test_lab_new_scaffolds_each_kind_that_validates_and_checks_clean(capsys, tmp_path: Path, kind: str):
    course = tmp_path / "course"
    assert main(["new", f"k/{kind}", "--kind", kind, "--exercises", str(course)]) == 0
    capsys.readouterr()
    assert main(["check", str(course / "k" / f"{kind}.j2"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == [] and report["contradictions"] == 0 and report["undecided"] == 0
    [entry] = report["exercises"]
    assert entry["warnings"] == [] and sorted(e["verdict"] for e in entry["examples"]) == ["fail", "pass"]


def test_lab_new_refuses_an_unknown_kind(capsys, tmp_path: Path):
    with pytest.raises(SystemExit):
        main(["new", "k/x", "--kind", "chat", "--exercises", str(tmp_path)])
    assert "invalid choice: 'chat'" in capsys.readouterr().err
