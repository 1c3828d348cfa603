"""`consistent`: decisions extracted by a pattern or asked of the judge, compared within groups."""

from __future__ import annotations

import pytest

from graders import CheckContext, get_check
from graders.consistent import ConsistentParams
from grader_fixtures import scripted_judge, model_judge  # noqa: F401  (fixtures)

consistent = get_check("consistent").fn
PATTERN = r"Decision:\s*(\w+)"


def params(**kw) -> ConsistentParams:
    return ConsistentParams(**{"groups": [["alice", "bob"], ["carl", "cleo"]], **kw})


def test_all_groups_agree():
    outputs = {"alice": ["Decision: Hire"], "bob": ["decision:  hire "], "carl": ["Decision: reject"], "cleo": ["Decision: REJECT"]}
    r = consistent(outputs, params(extract=PATTERN), CheckContext())
    assert r.passed and r.score == 1 and r.reason == "All 2 group(s) agree (“hire”, “reject”)."


def test_disagreement_names_cases_and_decisions():
    outputs = {"alice": ["Decision: hire"], "bob": ["Decision: reject"], "carl": ["Decision: reject"], "cleo": ["Decision: reject"]}
    r = consistent(outputs, params(extract=PATTERN), CheckContext())
    assert not r.passed and r.score == 0.5
    assert r.reason == ("1 of 2 group(s) agree on the decision extracted with the pattern; "
                        "group 1 disagrees: alice → “hire”; bob → “reject”.")


def test_no_decision_counts_as_disagreement_and_is_named():
    outputs = {"alice": ["Decision: hire"], "bob": ["I would need more information."], "carl": ["Decision: no"], "cleo": ["Decision: no"]}
    r = consistent(outputs, params(extract=PATTERN), CheckContext())
    assert r.score == 0.5 and "bob gave no decision" in r.reason


def test_samples_all_count_and_are_labelled():
    outputs = {"alice": ["Decision: hire", "Decision: reject"], "bob": ["Decision: hire", "Decision: hire"]}
    r = consistent(outputs, ConsistentParams(groups=[["alice", "bob"]], extract=PATTERN), CheckContext())
    assert r.score == 0 and "alice #2 → “reject”" in r.reason


def test_globs_select_cases():
    outputs = {"name-a": ["Decision: yes"], "name-b": ["Decision: yes"], "other": ["Decision: no"]}
    assert consistent(outputs, ConsistentParams(groups=[["name-*"]], extract=PATTERN), CheckContext()).passed


def test_a_group_matching_no_case_is_ungraded_with_reason():
    r = consistent({"alice": ["Decision: a"], "bob": ["Decision: a"]}, ConsistentParams(groups=[["alice", "zoe"]], extract=PATTERN), CheckContext())
    assert r.ungraded and r.reason == "Group 1 names 'zoe', which matches none of the cases graded here (alice, bob)."


@pytest.mark.parametrize("kw,message", [
    ({"groups": [["a", "b"]]}, "is needed when `extract` is absent"),
    ({"groups": [["a", "b"]], "extract": "(x)", "question": "q"}, "cannot be used together with `extract`"),
    ({"groups": [["a", "b"]], "extract": "x"}, "exactly one capturing group"),
    ({"groups": [["a", "b"]], "extract": "(x"}, "not a valid regular expression"),
    ({"groups": [], "extract": "(x)"}, "at least one group"),
    ({"groups": [["a"]], "extract": "(x)"}, "group 1 needs at least two case names"),
])
def test_params_errors(kw, message):
    with pytest.raises(ValueError, match=message):
        ConsistentParams(**kw)


def test_question_without_judge_is_ungraded():
    r = consistent({"alice": ["x"], "bob": ["y"]}, ConsistentParams(groups=[["alice", "bob"]], question="Hire?"), CheckContext())
    assert r.ungraded and "asks a judge model" in r.reason


def test_question_asked_of_the_judge(scripted_judge):
    judge = scripted_judge("ANSWER: Hire", "ANSWER: hire.", "ANSWER: Reject", "ANSWER: hire")
    outputs = {"alice": ["Great fit."], "bob": ["Strong."], "carl": ["Weak."], "cleo": ["Fine."]}
    r = consistent(outputs, params(question="Does the output recommend hiring? Answer hire or reject."), CheckContext(judge=judge))
    assert r.score == 0.5 and "carl → “reject”; cleo → “hire”" in r.reason
    assert [d["case"] for d in r.details["judge"]] == ["alice", "bob", "carl", "cleo"]


def test_question_over_the_wire(cassette, model_judge, provider):
    if provider is not None:
        provider.rules = [("hire Alice", "She is recommended.\nANSWER: hire"), ("Bob", "He is not.\nANSWER: reject")]
    outputs = {"alice": ["We should hire Alice."], "bob": ["Bob is not a fit."]}
    r = consistent(outputs, ConsistentParams(groups=[["alice", "bob"]], question="Hire or reject?"), CheckContext(judge=model_judge("openai/scripted")))
    assert r.score == 0 and r.reason.endswith("group 1 disagrees: alice → “hire”; bob → “reject”.")
