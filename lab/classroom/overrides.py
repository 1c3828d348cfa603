"""A trainer's review applied to a stored result: the reviewed output's verdict replaced, the criterion
and the result recomputed the way `lab.practice.grading` combines them (a criterion's score is the mean over its
outputs, an ungraded one counting 0; it passes when every output passed; the result's score is the
weighted mean of its criteria against the pass mark).

Pure functions over the JSON that `lab grade` stores, so every reader of `CohortStore.results()` (the
report, `lab grade --json`, certificates) sees the same overridden grade without knowing of reviews.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.classroom.records import ResultRow, Review

GROUP_CASE = "*"
# the judge's scales (graders/judge.py SCALES), low and high; checks without a scale answer pass / fail
SCALE_RANGE: dict[str, tuple[int, int]] = {"pass-fail": (0, 1), "1-5": (1, 5), "0-10": (0, 10)}


def normalise(value: float, scale: str) -> float:
    """A score on the criterion's scale as the grader's 0..1."""
    low, high = SCALE_RANGE.get(scale, (0, 1))
    return max(0.0, min(1.0, (float(value) - low) / (high - low)))


def on_scale(score: float, scale: str) -> float:
    """The grader's 0..1 score back on the criterion's scale (what a judge answered)."""
    low, high = SCALE_RANGE.get(scale, (0, 1))
    return round(low + score * (high - low), 4)


def trainer_verdict(review: "Review") -> tuple[float, bool]:
    """(score 0..1, passed) a review stands for. A confirm keeps the judge's verdict; an override without a
    score is the top (pass) or bottom (fail) of the scale."""
    if review.decision == "confirm":
        passed = bool(review.judge_passed)
        score = review.judge_score if review.judge_score is not None else (1.0 if passed else 0.0)
        return normalise(score, review.scale) if review.judge_score is not None else score, passed
    passed = bool(review.trainer_passed)
    if review.trainer_score is None:
        return (1.0 if passed else 0.0), passed
    return normalise(review.trainer_score, review.scale), passed


def _combine(criterion: dict[str, Any]) -> None:
    results = criterion.get("results", [])
    graded = [r for r in results if not r.get("ungraded")]
    n = len(results)
    criterion["score"] = round(sum(r["score"] for r in graded) / n, 4) if n else 0.0
    criterion["passed"] = bool(results) and all(r.get("passed") and not r.get("ungraded") for r in results)
    criterion["ungraded"] = any(r.get("ungraded") for r in results)
    criterion["pass_rate"] = round(sum(1 for r in graded if r.get("passed")) / len(graded), 4) if graded else 0.0
    if criterion["passed"]:
        criterion["feedback"] = None


def apply_to_result(result: dict[str, Any], reviews: list["Review"]) -> tuple[dict[str, Any], list[str]]:
    """A copy of the stored result with the reviews applied, and the ids of the criteria they changed."""
    out = copy.deepcopy(result)
    wanted = {(r.criterion, r.case, r.sample): r for r in reviews if r.decision != "skip"}
    overridden: list[str] = []
    for criterion in out.get("criteria", []):
        touched = False
        for r in criterion.get("results", []):
            review = wanted.get((criterion["id"], r.get("case"), r.get("sample", 0)))
            if review is None:
                continue
            score, passed = trainer_verdict(review)
            if review.decision == "override" or r.get("ungraded") or abs(score - r["score"]) > 1e-9 or passed != r.get("passed"):
                touched = True
            r["judge"] = {"score": r.get("score"), "passed": r.get("passed"), "ungraded": r.get("ungraded", False)}
            r.update(score=round(score, 4), passed=passed, ungraded=False,
                     review={"decision": review.decision, "note": review.note, "reviewer": review.reviewer, "at": review.at})
        if touched:
            _combine(criterion)
            criterion["overridden"] = True
            criterion["reason"] = f"Reviewed by {_reviewers(criterion)}: {'passed' if criterion['passed'] else 'not passed'}. " + str(criterion.get("reason") or "")
            overridden.append(criterion["id"])
    if not overridden:
        return out, []
    by_id = {c["id"]: c for c in out.get("criteria", [])}
    for case in out.get("cases", []):
        for entry in case.get("criteria", []):
            c = by_id.get(entry["id"])
            if c is None or not c.get("overridden"):
                continue
            mine = [r for r in c["results"] if r.get("case") == case.get("name")]
            if mine:
                graded = [r for r in mine if not r.get("ungraded")]
                entry.update(score=round(sum(r["score"] for r in graded) / len(mine), 4),
                             passed=all(r.get("passed") and not r.get("ungraded") for r in mine),
                             ungraded=any(r.get("ungraded") for r in mine), overridden=True)
    criteria = out.get("criteria", [])
    total = sum(float(c.get("weight", 1.0)) for c in criteria)
    score = sum(float(c.get("weight", 1.0)) * _score(c) for c in criteria) / total if total else 0.0
    score_high = sum(float(c.get("weight", 1.0)) * _score_high(c) for c in criteria) / total if total else 0.0
    pass_mark = float(out.get("pass_mark", 1.0))
    out["score"] = round(score, 4)
    out["passed"] = score >= pass_mark - 1e-9
    out["decided"] = out["passed"] or score_high < pass_mark - 1e-9
    out["overridden"] = overridden
    return out, overridden


def _score(criterion: dict[str, Any]) -> float:
    """Unrounded, as the grader sums it (the stored criterion score is rounded to 4 places)."""
    results = criterion.get("results", [])
    return sum(r["score"] for r in results if not r.get("ungraded")) / len(results) if results else float(criterion.get("score", 0.0))


def _score_high(criterion: dict[str, Any]) -> float:
    results = criterion.get("results", [])
    if not results:
        return 0.0
    return (sum(r["score"] for r in results if not r.get("ungraded")) + sum(1 for r in results if r.get("ungraded"))) / len(results)


def _reviewers(criterion: dict[str, Any]) -> str:
    names = sorted({r["review"]["reviewer"] for r in criterion.get("results", []) if r.get("review")})
    return ", ".join(names) or "the trainer"


def apply_reviews(row: "ResultRow", reviews: list["Review"]) -> "ResultRow":
    """The result as the trainer's reviews leave it: criteria, score, passed and (when no criterion is
    left ungraded) the status."""
    if row.result is None or row.status not in ("graded", "ungraded"):
        return row
    result, overridden = apply_to_result(row.result, reviews)
    if not overridden:
        return row
    status, error = row.status, row.error
    if status == "ungraded" and not any(c.get("ungraded") for c in result.get("criteria", [])):
        status, error = "graded", None  # the trainer decided what the judge could not
    return replace(row, result=result, score=result["score"], passed=result["passed"], status=status, error=error,
                   overridden=tuple(overridden))
