"""Faults: malformed answers end as failed attempts (or ungraded judge criteria), never as graded empty ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.exercise_files import load, minimal

from lab.errors import ModelError
from lab.models import llm
from lab.practice.attempts import run_attempt
from lab.practice.store import Store

# an exercise an empty answer would pass: every criterion is a negation
DEFENCE = minimal(rubric={"criteria": [{"id": "keeps-secret", "check": "max-chars", "value": 400}]})


def config(model: str, api_base: str) -> llm.CallConfig:
    return llm.CallConfig(model, api_base, timeout=10, max_retries=2, backoff=0)


@pytest.mark.parametrize("model", ["openai/not-json", "openai/empty-choices", "openai/cut-stream"])
def test_malformed_streamed_answer_fails_the_attempt_and_keeps_the_prompt(cassette, api_base, tmp_path: Path, model):
    exercise = load(tmp_path, "t/defence.j2", DEFENCE)
    with Store() as store:
        with pytest.raises(ModelError) as caught:
            run_attempt(exercise, "my careful prompt", config=config(model, api_base), store=store, on_delta=lambda *a: None)
        assert caught.value.kind == "malformed"
        [record] = store.attempts("t/defence")
        assert (record.status, record.score, record.passed) == ("failed", None, None)
        assert record.error == str(caught.value) and api_base in record.error
        assert record.prompt == "my careful prompt"
        assert "t/defence" in store.progress() and not store.progress()["t/defence"].passed
    assert len(cassette.requests) == 1  # an unreadable answer is not asked for again


JUDGED = minimal(rubric={"criteria": [{"id": "names-canberra", "check": "judge", "rubric": "The answer names Canberra."}]})


@pytest.mark.parametrize(("judge", "said"), [
    ("openai/not-json", "sent an answer that could not be read as a chat completion; check that --api-base points at an OpenAI-compatible /v1 endpoint."),
    ("openai/empty-choices", "sent a completion with no answer in it (its `choices` list is empty); send again, or check the server."),
], ids=["openai/not-json", "openai/empty-choices"])
def test_malformed_judge_answer_leaves_the_criterion_ungraded(cassette, api_base, tmp_path: Path, judge, said):
    exercise = load(tmp_path, "t/judged.j2", JUDGED)
    with Store() as store:
        outcome = run_attempt(exercise, "Canberra", config=config("openai/echo", api_base), judge_config=config(judge, api_base), store=store)
        [result] = outcome.grade.criteria[0].results
        assert result.ungraded and not result.passed
        assert result.reason == f"The judge model could not be asked: {api_base} {said}"
        assert store.attempt(outcome.attempt_id).status == "graded" and outcome.grade.passed is False


@pytest.mark.live
def test_an_attempt_stopped_while_judging_keeps_what_the_judge_was_paid(tmp_path: Path, live_provider, monkeypatch):
    """The judge's tokens were added only once grading returned: a cancel (or a failure) mid-judging recorded
    the attempt without them, and the day's spending under-counted what the provider charged."""
    import lab.practice.attempts as attempts
    from lab.errors import CancelledError

    def judged_then_stopped(exercise, outputs, judge=None, **kwargs):
        judge.usage.prompt_tokens += 120  # one judge call answered, then the learner pressed escape
        judge.usage.completion_tokens += 30
        judge.usage.cost_usd += 0.004
        raise CancelledError()

    monkeypatch.setattr(attempts, "grade", judged_then_stopped)
    exercise = load(tmp_path, "t/judged.j2", JUDGED)
    with Store() as store:
        with pytest.raises(CancelledError):
            run_attempt(exercise, "Canberra", config=config("openai/echo", live_provider.url), store=store)
        [record] = store.attempts("t/judged")
    assert record.status == "cancelled"
    assert record.prompt_tokens > 120 and record.completion_tokens > 30 and record.cost_usd >= 0.004
