"""Rubric scoring: run each criterion's check over the outputs and combine the scores.

A criterion's score is the mean over the outputs it applies to; the exercise's score is the
weighted mean of its criteria. An ungraded result counts as 0 for the score and as 1 for
`score_high`: a pass is never granted on the strength of something that was not graded, and
`decided` says whether grading what is missing could change the verdict.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass, field
from typing import Any

from graders import CheckContext, CheckResult, get_check
from graders.registry import Judge
from lab.errors import CancelledError
from lab.format.conversation import CasePlan, Transcript
from lab.format.exercise import Exercise
from lab.settings.i18n import ENGLISH, N_, translator

GROUP_CASE = "*"


@dataclass(frozen=True)
class OutputResult:
    case: str
    sample: int
    score: float
    passed: bool
    reason: str
    ungraded: bool = False
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class CriterionGrade:
    id: str
    check: str
    weight: float
    negate: bool
    feedback: str | None
    results: tuple[OutputResult, ...]
    # the exercise's language, for the summary of several outputs (the checks' own reasons come translated)
    tr: gettext.NullTranslations = field(default=ENGLISH, compare=False, repr=False)

    @property
    def graded(self) -> tuple[OutputResult, ...]:
        return tuple(r for r in self.results if not r.ungraded)

    @property
    def ungraded(self) -> bool:
        return any(r.ungraded for r in self.results)

    @property
    def score(self) -> float:
        return sum(r.score for r in self.graded) / len(self.results) if self.results else 0.0

    @property
    def score_high(self) -> float:
        return (sum(r.score for r in self.graded) + (len(self.results) - len(self.graded))) / len(self.results) if self.results else 0.0

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed and not r.ungraded for r in self.results)

    @property
    def pass_rate(self) -> float:
        return sum(1 for r in self.graded if r.passed) / len(self.graded) if self.graded else 0.0

    @property
    def unstable(self) -> bool:
        """Passed in some samples of a case and failed in others."""
        by_case: dict[str, set[bool]] = {}
        for r in self.graded:
            by_case.setdefault(r.case, set()).add(r.passed)
        return any(len(verdicts) > 1 for verdicts in by_case.values())

    @property
    def rule(self) -> str | None:
        """What the check looked for (a pattern, the accepted wordings) where its reason leaves it out: for authors."""
        failing = [r for r in self.results if not r.passed] or list(self.results)
        return next((r.details["rule"] for r in failing if r.details and r.details.get("rule")), None)

    @property
    def reason(self) -> str:
        if len(self.results) == 1:
            return self.results[0].reason
        t = self.tr
        total = len(self.results)
        failing = [r for r in self.results if r.ungraded or not r.passed]
        if not failing:
            return t.ngettext("Passed on the {total} output.", "Passed on all {total} outputs.", total).format(total=total)
        first = failing[0]
        if first.case == GROUP_CASE:
            return first.reason
        label = first.case if _samples(self) == 1 else f"{first.case} #{first.sample + 1}"
        others = ", ".join(sorted({r.case for r in failing[1:]} - {first.case}))
        if all(r.ungraded for r in failing):  # a missing judge is not a failure
            head = t.ngettext("Ungraded on {n} of {total} outputs.", "Ungraded on {n} of {total} outputs.", total)
            more = t.gettext(" Also ungraded on: {cases}.") if others else ""
        else:
            head = t.ngettext("Failed on {n} of {total} outputs.", "Failed on {n} of {total} outputs.", total)
            more = t.gettext(" Also failed on: {cases}.") if others else ""
        where = t.gettext("{case}: {reason}").format(case=label, reason=first.reason)
        return f"{head.format(n=len(failing), total=total)} {where}{more.format(cases=others)}"


def _samples(criterion: CriterionGrade) -> int:
    return max((r.sample for r in criterion.results), default=0) + 1


@dataclass(frozen=True)
class Grade:
    pass_mark: float
    criteria: tuple[CriterionGrade, ...]

    def _weighted(self, attr: str) -> float:
        total = sum(c.weight for c in self.criteria)
        return sum(c.weight * getattr(c, attr) for c in self.criteria) / total if total else 0.0

    @property
    def score(self) -> float:
        return self._weighted("score")

    @property
    def score_high(self) -> float:
        return self._weighted("score_high")

    @property
    def passed(self) -> bool:
        return self.score >= self.pass_mark - 1e-9

    @property
    def decided(self) -> bool:
        """False when grading the ungraded criteria could still turn a fail into a pass."""
        return self.passed or self.score_high < self.pass_mark - 1e-9

    @property
    def ungraded(self) -> list[str]:
        return [c.id for c in self.criteria if c.ungraded]


def _negated(result: CheckResult) -> CheckResult:
    """`not: true`: passes exactly when the check fails. A passed negation scores 1 even when the
    check gave partial credit (`not` min-words 4 on 3 words fully meets "fewer than 4 words")."""
    if result.ungraded:
        return result
    if result.passed:
        return CheckResult(1.0 - result.score, False, result.reason, details=result.details)
    return CheckResult(1.0, True, result.reason, details=result.details)


def _safe(fn: Any, output: Any, params: Any, ctx: CheckContext) -> CheckResult:
    t = ctx.tr
    try:
        result = fn(output, params, ctx)
    except CancelledError:
        raise  # the learner stopped the run: not a check's failure
    except Exception as exc:  # a check's own bug must not lose the attempt; it shows as ungraded
        return CheckResult.not_graded(t.gettext("The check failed to run ({problem}).").format(problem=f"{type(exc).__name__}: {exc}"))
    if not isinstance(result, CheckResult):
        return CheckResult.not_graded(t.gettext("The check returned {type}, not a CheckResult.").format(type=type(result).__name__))
    return result


def grade(exercise: Exercise, outputs: dict[str, list[str]], judge: Judge | None = None,
          attempts: dict[str, str] | None = None, *, lang: str | None = None,
          transcripts: dict[str, list[Transcript]] | None = None, plans: dict[str, CasePlan] | None = None) -> Grade:
    """Grade the outputs of every case (a list per case: one per sample). `attempts` holds the
    learner's rendered text per case, for checks on the learner's own text (`prompt-max-words`).
    `transcripts` (one per output) and `plans` (the learner's texts per case) let a criterion read what
    its `reads:` names: the continuation, each answer, a learner text, the whole conversation.
    Reasons are in `lang`, by default the exercise's (`"en"` for what authors read)."""
    plans = plans or {}
    attempts = {**{case: p.attempt for case, p in plans.items()}, **(attempts or {})}
    transcripts = transcripts or {}
    tr = ENGLISH if lang == "en" else translator(exercise.lang if lang is None else lang)
    criteria = []
    for criterion in exercise.rubric.criteria:
        check = get_check(criterion.check)
        params = exercise.criterion_params[criterion.id]
        results: list[OutputResult] = []
        if check.scope == "group":
            scoped = {name: [_read(criterion.reads, o, _nth(transcripts.get(name), i), plans.get(name), attempts.get(name))[0]
                             for i, o in enumerate(outs)]
                      for name, outs in outputs.items() if criterion.applies_to(name)}
            ctx = CheckContext(case=None, sample=0, judge=judge, tr=tr)
            r = _safe(check.fn, scoped, params[GROUP_CASE], ctx)
            r = _negated(r) if criterion.negate else r
            results.append(OutputResult(GROUP_CASE, 0, r.score, r.passed, r.reason, r.ungraded, r.details))
        else:
            for case in exercise.cases:
                if case.name not in params or case.name not in outputs:
                    continue
                for sample, output in enumerate(outputs[case.name]):
                    transcript = _nth(transcripts.get(case.name), sample)
                    calls = tuple((c.name, c.args) for c in transcript.calls) if transcript is not None else ()
                    ctx = CheckContext(case=case.name, sample=sample, judge=judge, case_vars=exercise.variables(case.name),
                                       attempt=attempts.get(case.name), tr=tr, calls=calls)
                    read = _read(criterion.reads, output, transcript, plans.get(case.name), attempts.get(case.name))
                    each = []
                    for text in read:
                        r = _safe(check.fn, text, params[case.name], ctx)
                        each.append(_negated(r) if criterion.negate else r)
                    r = _combined(each, criterion.reads, tr)
                    results.append(OutputResult(case.name, sample, r.score, r.passed, r.reason, r.ungraded, r.details))
        criteria.append(CriterionGrade(criterion.id, check.name, criterion.weight, criterion.negate, criterion.feedback, tuple(results), tr))
    return Grade(exercise.rubric.pass_, tuple(criteria))


def _nth(items: list[Transcript] | None, index: int) -> Transcript | None:
    return items[index] if items is not None and index < len(items) else None


def _read(reads: str, output: str, transcript: Transcript | None, plan: CasePlan | None, attempt: str | None) -> list[str]:
    """What a criterion's check reads for one output (`reads:`): a list of one text, or each answer."""
    if reads == "output":
        return [output]
    if reads == "continuation":
        return [transcript.continuation if transcript is not None else output]
    if reads in ("every-answer", "any-answer"):
        return list(transcript.answers) if transcript is not None and transcript.answers else [output]
    if reads == "transcript":
        return [transcript.text() if transcript is not None else output]
    texts = plan.texts if plan is not None else {}
    value = texts.get(reads, texts.get("turns") if reads == "prompt" else None)
    if value is None:
        value = attempt or ""
    return ["\n\n".join(value) if isinstance(value, list) else str(value)]


# what a reason says it read, when it is not the output (`reads:`)
READ_LABELS = {"continuation": N_("the continuation"), "prompt": N_("your prompt"), "system": N_("your system prompt"),
               "prefill": N_("your prefill"), "transcript": N_("the conversation")}


def _combined(results: list[CheckResult], reads: str, tr: gettext.NullTranslations) -> CheckResult:
    """One result from a check run on each text a criterion read: every answer must pass (`every-answer`),
    or one must (`any-answer`). A single text keeps its result, its reason labelled with what was read."""
    t = tr
    if len(results) == 1:  # one text read (one answer, for every-answer and any-answer too): its own result
        r = results[0]
        if reads in READ_LABELS:
            reason = t.gettext("Reading {what}: {reason}").format(what=t.gettext(READ_LABELS[reads]), reason=r.reason)
            return CheckResult(r.score, r.passed, reason, r.ungraded, r.details)
        return r
    n = len(results)
    details = _merged_details(results)

    def said(i: int) -> str:
        return t.gettext("Answer {number} of {total}: {reason}").format(number=i + 1, total=n, reason=results[i].reason)

    failing = [i for i, r in enumerate(results) if not r.ungraded and not r.passed]
    passing = [i for i, r in enumerate(results) if not r.ungraded and r.passed]
    ungraded = [i for i, r in enumerate(results) if r.ungraded]
    if reads == "any-answer":
        if passing:
            return CheckResult(max(results[i].score for i in passing), True, said(passing[0]), details=details)
        if ungraded:
            return CheckResult.not_graded(said(ungraded[0]), **(details or {}))
        head = t.ngettext("No answer passes ({total} answer).", "No answer passes ({total} answers).", n).format(total=n)
        return CheckResult(max(r.score for r in results), False, f"{head} {said(n - 1)}", details=details)
    score = min(r.score for r in results)  # as strong as its weakest answer
    if failing:
        return CheckResult(score, False, said(failing[0]), details=details)
    if ungraded:
        return CheckResult.not_graded(said(ungraded[0]), **(details or {}))
    head = t.ngettext("Passed on the {total} answer.", "Passed on all {total} answers.", n).format(total=n)
    return CheckResult(score, True, head, details=details)


def _merged_details(results: list[CheckResult]) -> dict[str, Any] | None:
    """The details of each answer's result, with every judge consultation kept."""
    merged: dict[str, Any] = {}
    judged: list[Any] = []
    for r in results:
        for key, value in (r.details or {}).items():
            if key == "judge":
                judged.extend(value if isinstance(value, list) else [value])
            else:
                merged.setdefault(key, value)
    if judged:
        merged["judge"] = judged
    return merged or None


def grade_to_dict(g: Grade) -> dict[str, Any]:
    """The grade as JSON-ready data (the `criteria` part of `lab run --json`)."""
    return {
        "passed": g.passed,
        "score": round(g.score, 4),
        "pass_mark": g.pass_mark,
        "decided": g.decided,
        "criteria": [
            {
                "id": c.id,
                "check": c.check,
                "weight": c.weight,
                "score": round(c.score, 4),
                "passed": c.passed,
                "ungraded": c.ungraded,
                "pass_rate": round(c.pass_rate, 4),
                "unstable": c.unstable,
                "reason": c.reason,
                # the author's advice on a fail, only where an output was graded and failed: a criterion
                # no judge could grade has not failed, and its advice would send the learner the wrong way
                "feedback": c.feedback if any(not r.passed and not r.ungraded for r in c.results) else None,
                "results": [
                    {k: v for k, v in vars(r).items() if v is not None}
                    for r in c.results
                ],
            }
            for c in g.criteria
        ],
    }
