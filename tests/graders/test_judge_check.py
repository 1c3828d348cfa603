"""The `judge` check: scales, thresholds, both answer routes, retries and never a silent pass."""

from __future__ import annotations

import json

import pytest

from graders import CheckContext, get_check
from graders.judge import SCALES, JudgeParams, parse_answer
from graders._judging import Unusable
from lab.errors import CancelledError, ModelError
from grader_fixtures import scripted_judge, model_judge  # noqa: F401  (fixtures)

judge_fn = get_check("judge").fn


def run(output: str, judge, **params) -> object:
    return judge_fn(output, JudgeParams(rubric="Written for a ten-year-old.", **params), CheckContext(case="c", judge=judge))


def test_params_defaults_and_validation():
    assert JudgeParams(rubric="x").pass_mark == 1.0
    assert JudgeParams(rubric="x", scale="1-5").pass_mark == 0.75
    assert JudgeParams(rubric="x", scale="0-10").pass_mark == 0.7
    assert JudgeParams(rubric="x", scale="0-10", threshold=0.9).pass_mark == 0.9
    with pytest.raises(ValueError, match="must say what the judge looks for"):
        JudgeParams(rubric="  ")
    with pytest.raises(ValueError):
        JudgeParams(rubric="x", scale="1-10")
    with pytest.raises(ValueError):
        JudgeParams(rubric="x", threshold=1.5)


def test_without_a_judge_it_is_ungraded_not_passed():
    r = run("anything", None)
    assert r.ungraded and not r.passed and r.score == 0
    assert "needs a judge model" in r.reason


@pytest.mark.parametrize("scale,answer,score,passed", [
    ("pass-fail", "Fine.\nGRADE: PASS", 1.0, True),
    ("pass-fail", "No.\nGRADE: FAIL", 0.0, False),
    ("1-5", "Good.\nGRADE: 4", 0.75, True),
    ("1-5", "Meh.\nGRADE: 3", 0.5, False),
    ("0-10", "GRADE: 7", 0.7, True),
    ("0-10", "**GRADE:** 6/10", 0.6, False),
])
def test_final_line_route_normalises_each_scale(scripted_judge, scale, answer, score, passed):
    judge = scripted_judge(answer)
    r = run("text", judge, scale=scale)
    assert (r.score, r.passed, r.ungraded) == (pytest.approx(score), passed, False)
    assert judge.asked[0]["schema"] is None
    assert "GRADE: <score>" in judge.asked[0]["messages"][1]["content"]


def test_the_last_grade_line_counts(scripted_judge):
    r = run("text", scripted_judge("The text says GRADE: PASS but\nGRADE: PASS\nOn reflection no.\nGRADE: FAIL"))
    assert not r.passed and r.score == 0


def test_threshold_sets_the_pass_mark(scripted_judge):
    assert run("t", scripted_judge("GRADE: 3"), scale="1-5", threshold=0.5).passed
    assert not run("t", scripted_judge("GRADE: 8"), scale="0-10", threshold=0.9).passed
    assert "(9 needed)" in run("t", scripted_judge("GRADE: 8"), scale="0-10", threshold=0.9).reason


def test_schema_route_sends_a_schema_and_reads_json(scripted_judge):
    judge = scripted_judge(json.dumps({"reasoning": "Short words, friendly.", "score": 5, "passed": True}), schema=True)
    r = run("text", judge, scale="1-5")
    assert r.passed and r.score == 1.0
    schema = judge.asked[0]["schema"]
    assert schema["required"] == ["reasoning", "score", "passed"]
    assert schema["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
    assert "Short words, friendly." in r.reason
    assert r.details["judge"]["route"] == "schema"


@pytest.mark.parametrize("claimed", [True, False])
def test_an_inconsistent_verdict_is_decided_by_the_score(scripted_judge, claimed):
    """promptfoo #2998: {score 3/5, passed true} must not pass; {score 5/5, passed false} must."""
    score = 3 if claimed else 5
    r = run("t", scripted_judge(json.dumps({"reasoning": "r", "score": score, "passed": claimed}), schema=True), scale="1-5")
    assert r.passed is (not claimed)
    assert r.details["judge"]["judge_passed"] is claimed


def test_a_missing_passed_is_not_a_pass(scripted_judge):
    r = run("t", scripted_judge('{"reasoning": "r", "score": 0}', schema=True))
    assert not r.passed and not r.ungraded


@pytest.mark.parametrize("answer,why", [
    ("I like it.", "no `GRADE:` line"),
    ("GRADE: maybe", "is not PASS or FAIL"),
    ('{"reasoning": "r"}', "has no `score`"),
    ('{"score": true}', "is not PASS or FAIL"),
])
def test_unusable_answers_say_why(answer, why):
    with pytest.raises(Unusable, match=why):
        parse_answer(answer, SCALES["pass-fail"])


def test_out_of_range_and_fractional_scores_are_unusable():
    with pytest.raises(Unusable, match="outside 1..5"):
        parse_answer("GRADE: 7", SCALES["1-5"])
    with pytest.raises(Unusable, match="not an integer"):
        parse_answer('{"score": 3.5}', SCALES["1-5"])


def test_an_unusable_answer_is_retried_once_then_used(scripted_judge):
    judge = scripted_judge("It is good.", "Sorry.\nGRADE: PASS")
    r = run("t", judge)
    assert r.passed
    retry = judge.asked[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "It is good."}
    assert "could not be used: it has no `GRADE:` line" in retry[-1]["content"]
    assert len(r.details["judge"]["exchanges"]) == 2


def test_two_unusable_answers_leave_the_criterion_ungraded(scripted_judge):
    r = run("t", scripted_judge("It is good.", "Still good, trust me."))
    assert r.ungraded and not r.passed and r.score == 0
    assert r.reason.startswith("The judge gave no usable answer twice (it has no `GRADE:` line")
    assert r.details["judge"]["problem"]


def test_a_failing_judge_model_leaves_it_ungraded():
    class Down:
        model = "m"

        def ask(self, messages, *, response_schema=None):
            raise ModelError("Could not reach http://x: is the server running and the address right?", "connection")

        def supports_schema(self):
            return False

    r = run("t", Down())
    assert r.ungraded and r.reason == "The judge model could not be asked: Could not reach http://x: is the server running and the address right?"


def test_cancelling_propagates_through_grading(scripted_judge):
    class Cancelled(type(scripted_judge())):
        def ask(self, messages, *, response_schema=None):
            raise CancelledError()

    with pytest.raises(CancelledError):
        run("t", Cancelled())


# ---------------------------------------------------------------- through litellm, replayed from cassettes


def test_final_line_route_over_the_wire(cassette, model_judge):
    judge = model_judge(structured=False)
    r = run("A friendly text. MEETS-RUBRIC", judge, scale="1-5")
    assert r.passed and r.score == 1.0 and r.details["judge"]["route"] == "final-line"
    body = json.loads(cassette.requests[0].body)
    assert body["temperature"] == 0 and "response_format" not in body
    assert judge.exchanges[0]["answer"].splitlines()[1] == "GRADE: 5"


def test_schema_route_over_the_wire(cassette, model_judge):
    judge = model_judge(structured=True)
    r = run("A dense academic text.", judge, scale="0-10")
    assert not r.passed and r.score == pytest.approx(0.3)
    body = json.loads(cassette.requests[0].body)
    assert body["temperature"] == 0
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["score"]["enum"] == list(range(11))
    assert r.details["judge"]["judge_passed"] is True  # the fake always claims a pass; the score decided


def test_unparseable_answers_over_the_wire(cassette, model_judge, provider):
    if provider is not None:
        provider.rules = [("Rubric:", "What a lovely text, I would recommend it.")]
    r = run("text", model_judge("openai/scripted"))
    assert r.ungraded and "no usable answer twice" in r.reason
    assert len(cassette.requests) == 2


def test_a_server_error_over_the_wire(cassette, model_judge):
    r = run("text", model_judge("openai/fail-500"))
    assert r.ungraded and r.reason.startswith("The judge model could not be asked:") and "(500)" in r.reason
