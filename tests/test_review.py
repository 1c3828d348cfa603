"""lab/classroom/review.py and lab/classroom/overrides.py over a real graded cohort: the queue, decisions, overrides
everywhere (results(), `lab grade --json`, the report), agreement and Cohen's kappa."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from review_cohort import grade_argv, graded_cohort

from lab.classroom.cohort import CohortStore
from lab.classroom.review import Agreement, Session, agreement, cohen_kappa, decide, queue
from lab.cli import main
from lab.errors import LabError


def by_key(items):
    return {(i.learner, i.criterion, i.case): i for i in items}


def test_the_queue_puts_least_confident_first_and_carries_the_judges_exchange(tmp_path: Path, cassette, api_base: str, capsys):
    folder = graded_cohort(tmp_path, api_base, capsys)
    with CohortStore(folder) as store:
        items = queue(store)
        assert store.levels() == {"t/reviewed": 2}  # recorded by `lab grade`: the report can be redrawn from cohort.db alone
    # the 1-5 verdicts by distance from the 0.75 threshold (ana's 5: 0.25; bob's and cleo's 2: 0.5), then the pass/fail ones
    assert [(i.learner, i.criterion, i.case) for i in items] == [
        ("ana", "rated", "a"), ("ana", "rated", "b"), ("bob", "rated", "a"), ("bob", "rated", "b"), ("cleo", "rated", "a"), ("cleo", "rated", "b"),
        ("ana", "meets", "a"), ("ana", "meets", "b"), ("bob", "meets", "a"), ("bob", "meets", "b"), ("cleo", "meets", "a"), ("cleo", "meets", "b")]
    bob = by_key(items)[("bob", "rated", "a")]
    assert (bob.judge_passed, bob.judge_score, bob.scale, bob.threshold, bob.verdict) == (False, 2.0, "1-5", 0.75, "fail (2 on 1-5)")
    assert bob.output == "hello Ana"
    assert bob.rubric.startswith("Rubric:\nRate how well the text meets the rubric.\n\nScale: 1-5")
    [exchange] = bob.exchanges
    assert [m["role"] for m in exchange.messages] == ["system", "user"] and "hello Ana" in exchange.messages[1]["content"]
    assert "GRADE: 2" in exchange.answer and exchange.call is not None and exchange.call.startswith("judge:")
    meets = by_key(items)[("bob", "meets", "b")]
    assert (meets.verdict, meets.feedback, meets.distance) == ("fail", "Make it meet the rubric.", None)


def test_overrides_count_in_results_the_json_and_the_report(tmp_path: Path, cassette, api_base: str, capsys):
    folder = graded_cohort(tmp_path, api_base, capsys)
    with CohortStore(folder) as store:
        items = by_key(queue(store))
        decide(store, items[("bob", "meets", "a")], "override", passed=True, note="it does meet it", reviewer="tina")
        decide(store, items[("bob", "rated", "a")], "override", score=5, reviewer="tina")
        decide(store, items[("bob", "rated", "b")], "override", score=4, reviewer="tina")
        decide(store, items[("ana", "meets", "a")], "confirm", reviewer="tina")  # agrees: nothing changes
        decide(store, items[("cleo", "meets", "a")], "skip", reviewer="tina")
        rows = {r.learner: r for r in store.results()}
        raw = {r.learner: r for r in store.results(reviewed=False)}
    # bob: meets (0.5, a case still fails), rated (1 + 0.75) / 2 = 0.875, hello 1 -> (0.5 + 2 * 0.875 + 1) / 4 = 0.8125 >= 0.75
    bob = rows["bob"]
    assert (raw["bob"].score, raw["bob"].passed) == (0.375, False)
    assert (bob.score, bob.passed, bob.overridden) == (0.8125, True, ("meets", "rated"))
    criteria = {c["id"]: c for c in bob.result["criteria"]}
    assert (criteria["meets"]["score"], criteria["meets"]["passed"], criteria["meets"]["overridden"]) == (0.5, False, True)
    assert (criteria["rated"]["score"], criteria["rated"]["passed"]) == (0.875, True)
    assert "overridden" not in criteria["hello"]
    case_a = {c["id"]: c for c in bob.result["cases"][0]["criteria"]}
    assert case_a["meets"]["passed"] is True and case_a["rated"]["score"] == 1.0
    assert rows["ana"].overridden == () and rows["cleo"].overridden == () and rows["cleo"].score == raw["cleo"].score
    # `lab grade` again re-reads the graded cohort: nothing is called, the overrides are in the JSON and the report
    assert main(grade_argv(tmp_path, api_base)) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["run"]["calls"] == 0
    result = next(r for r in data["results"] if r["learner"] == "bob")
    assert (result["score"], result["passed"], result["overridden"]) == (0.8125, True, ["meets", "rated"])
    assert result["criteria"][0] == {"id": "meets", "score": 0.5, "passed": False, "ungraded": False}
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert 'title="bob · t/reviewed: graded; overridden by the trainer: meets, rated">0.81 ✓ †</td>' in report
    # the hardest-criteria table: how many submissions' verdicts on each criterion the review changed (the confirm changed none)
    criteria = report[report.index('<h2 id="criteria">'):report.index('<h2 id="skills">')]
    changed = dict(re.findall(r'<b>(\w+)</b>.*?<td class="overridden">(.*?)</td>', criteria))
    assert changed == {"meets": "1 †", "rated": "1 †", "hello": '<span class="muted">0</span>'}
    # mastery per skill is lab.practice.mastery's over the reviewed grades: bob's override makes his 0.375 a pass worth 1.0
    assert 'title="bob · judgement: mastered">1.00</td>' in report
    assert 'title="cleo · judgement: started">0.06</td>' in report  # not passed: 0.5 × 0.125


def test_a_bad_decision_says_what_to_change(tmp_path: Path, cassette, api_base: str, capsys):
    folder = graded_cohort(tmp_path, api_base, capsys)
    with CohortStore(folder) as store:
        items = by_key(queue(store))
        with pytest.raises(LabError, match=r"^A score on the 1-5 scale is from 1 to 5; 7 is outside it\.$"):
            decide(store, items[("bob", "rated", "a")], "override", score=7, reviewer="tina")
        with pytest.raises(LabError, match=r"^An override needs a verdict: a pass, a fail, or a score on the criterion's scale\.$"):
            decide(store, items[("bob", "rated", "a")], "override", reviewer="tina")
        assert store.reviews() == []


def test_agreement_per_criterion_with_a_hand_computed_kappa(tmp_path: Path, cassette, api_base: str, capsys):
    folder = graded_cohort(tmp_path, api_base, capsys)
    with CohortStore(folder) as store:
        items = by_key(queue(store))
        for key in (("ana", "meets", "a"), ("ana", "meets", "b"), ("bob", "meets", "b")):
            decide(store, items[key], "confirm", reviewer="tina")
        decide(store, items[("bob", "meets", "a")], "override", passed=True, reviewer="tina")
        decide(store, items[("cleo", "meets", "a")], "skip", reviewer="tina")
        decide(store, items[("ana", "rated", "a")], "confirm", reviewer="tina")
        found = {a.criterion: a for a in agreement(store)}
    # meets: (judge, trainer) = (P,P) (P,P) (F,F) (F,P): po 0.75, judge pass 0.5, trainer pass 0.75,
    # pe = 0.5 * 0.75 + 0.5 * 0.25 = 0.5, kappa = (0.75 - 0.5) / (1 - 0.5) = 0.5
    meets = found["meets"]
    assert (meets.reviewed, meets.agreement, meets.kappa, meets.judged, meets.untrusted) == (4, 0.75, pytest.approx(0.5), 6, False)
    rated = found["rated"]  # one confirm of a pass: chance agrees fully, kappa undefined
    assert (rated.reviewed, rated.agreement, rated.kappa) == (1, 1.0, None)
    assert rated.why == "undefined: judge and trainer both said pass every time, so chance alone agrees fully"


def test_a_session_resumes_at_the_first_item_not_reviewed(tmp_path: Path, cassette, api_base: str, capsys):
    folder = graded_cohort(tmp_path, api_base, capsys)
    with CohortStore(folder) as store:
        session = Session.open(store)
        assert (session.position, session.current.learner) == ("1 / 12", "ana")
        session.decide("confirm")
        session.decide("override", passed=False)
        session.back()
        assert session.position == "2 / 12" and session.note("too generous") is not None
        assert [(r.decision, r.trainer_passed, r.note) for r in store.reviews()] == [("confirm", None, None), ("override", False, "too generous")]
    with CohortStore(folder) as store:
        again = Session.open(store)
        assert again.position == "3 / 12"
        assert [r.decision for r in store.reviews()] == ["confirm", "override"]


@pytest.mark.parametrize("pairs, kappa", [
    # (T,T)x4 (T,F) (F,T) (F,F)x4: po 0.8, pe 0.5*0.5 + 0.5*0.5 = 0.5 -> 0.6
    ([(True, True)] * 4 + [(True, False), (False, True)] + [(False, False)] * 4, 0.6),
    # (T,T)x6 (T,F)x2 (F,T) (F,F): po 0.7, judge pass 0.8, trainer pass 0.7, pe 0.56 + 0.06 = 0.62 -> 0.08 / 0.38
    ([(True, True)] * 6 + [(True, False)] * 2 + [(False, True), (False, False)], 0.08 / 0.38),
    # (T,T)x3 (T,F): po 0.75, judge pass 1, trainer pass 0.75, pe 0.75 -> 0: no better than chance
    ([(True, True)] * 3 + [(True, False)], 0.0),
    # perfect disagreement on a balanced set: po 0, pe 0.5 -> -1
    ([(True, False), (False, True)], -1.0),
])
def test_cohen_kappa_by_hand(pairs, kappa):
    value, why = cohen_kappa(pairs)
    assert value == pytest.approx(kappa) and why is None


def test_kappa_is_undefined_when_chance_agrees_fully():
    assert cohen_kappa([(False, False)] * 3) == (None, "undefined: judge and trainer both said fail every time, so chance alone agrees fully")
    assert cohen_kappa([]) == (None, "nothing reviewed yet")


def test_untrusted_needs_a_low_kappa_over_at_least_ten_reviews():
    assert Agreement("t/x", "c", 10, 7, 0.08 / 0.38).untrusted is True
    assert Agreement("t/x", "c", 9, 6, 0.1).untrusted is False
    assert Agreement("t/x", "c", 10, 8, 0.6).untrusted is False
    assert Agreement("t/x", "c", 12, 12, None).untrusted is False


def test_lab_review_agreement_json_and_table(tmp_path: Path, cassette, api_base: str, capsys):
    folder = graded_cohort(tmp_path, api_base, capsys)
    with CohortStore(folder) as store:
        items = by_key(queue(store))
        decide(store, items[("bob", "meets", "a")], "override", passed=True, reviewer="tina")
        decide(store, items[("ana", "meets", "a")], "confirm", reviewer="tina")
    assert main(["review", str(folder), "--agreement", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["criteria"]
    assert [{k: c[k] for k in ("exercise", "criterion", "reviewed", "agreement", "kappa", "untrusted")} for c in data["criteria"]] == [
        # (P,P) (F,P): po 0.5, judge pass 0.5, trainer pass 1, pe 0.5 -> kappa 0
        {"exercise": "t/reviewed", "criterion": "meets", "reviewed": 2, "agreement": 0.5, "kappa": 0.0, "untrusted": False},
        {"exercise": "t/reviewed", "criterion": "rated", "reviewed": 0, "agreement": None, "kappa": None, "untrusted": False}]
    assert main(["review", str(folder), "--agreement"]) == 0
    out = capsys.readouterr().out
    assert out == ("EXERCISE    CRITERION  REVIEWED  AGREEMENT  KAPPA  FLAG\n"
                   "----------  ---------  --------  ---------  -----  ----\n"
                   "t/reviewed  meets      2/6       50%        0.00\n"
                   "t/reviewed  rated      0/6       —          —\n")


def test_lab_review_without_a_cohort_db_exits_2_and_says_what_to_give(tmp_path: Path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["review", str(tmp_path / "empty"), "--agreement"]) == 2
    assert capsys.readouterr().err == (f"lab: {tmp_path / 'empty'} has no cohort.db: give the folder `lab grade … --out DIR` wrote, "
                                       "or grade the cohort first.\n")
    assert main(["review", str(tmp_path / "nowhere")]) == 2
    assert "nowhere does not exist: give the folder" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()  # review never creates a cohort
    assert main(["review", str(tmp_path / "empty"), "--json"]) == 2
    assert capsys.readouterr().err == "lab: --json goes with --agreement (the review screen has no JSON): add --agreement.\n"


def test_lab_review_never_imports_litellm(tmp_path: Path, lab_home: Path):
    from test_imports import run_in_fresh_python

    CohortStore(tmp_path / "c").close()
    done = run_in_fresh_python(f"""
        import contextlib, io, sys
        from lab.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["review", {str(tmp_path / "c")!r}, "--agreement", "--json"]) == 0
        import lab.tui.review_app, lab.tui.screens.review  # the screen `lab review DIR` opens
        assert "litellm" not in sys.modules and "openai" not in sys.modules
        print("clean")
    """, lab_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"


def test_a_decision_on_a_grading_redone_since_the_review_opened_is_refused(tmp_path: Path, cassette, api_base: str, capsys):
    """`lab review` takes no lock: a `lab grade` beside it may reset and re-grade what is on the trainer's screen. The
    decision would then land on a grading the trainer never saw; it is refused, and the others still save."""
    import sqlite3

    folder = graded_cohort(tmp_path, api_base, capsys)
    with CohortStore(folder) as store:
        session = Session.open(store)
        assert session.current.learner == "ana"
        with sqlite3.connect(folder / "cohort.db") as other:  # another process re-grades ana's submission
            other.execute("UPDATE results SET graded_at = '2099-01-01T00:00:00+00:00' WHERE learner = 'ana'")
        with pytest.raises(LabError) as refused:
            session.decide("confirm")
        assert str(refused.value) == ("This grading was redone by `lab grade` after the review opened, so the decision is not saved: "
                                      "quit (q) and run `lab review` again to review the new grading.")
        assert store.reviews() == [] and session.position == "1 / 12"
        bob = next(i for i, item in enumerate(session.items) if item.learner == "bob")
        session.index = bob
        session.decide("confirm")
        assert [(r.result_id, r.decision) for r in store.reviews()] == [(session.items[bob].result_id, "confirm")]
