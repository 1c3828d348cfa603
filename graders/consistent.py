"""`consistent`: the same decision across cases that differ only in a protected attribute."""

from __future__ import annotations

import fnmatch
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from graders import _regex
from graders._judging import ask_question
from graders._text import quote
from graders.registry import CheckContext, CheckResult, Params, register
from graders.errors import JudgeCancelled, JudgeError


class ConsistentParams(Params):
    groups: list[list[str]]
    extract: str | None = None
    question: str | None = Field(default=None, validate_default=True)

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: list[list[str]]) -> list[list[str]]:
        if not value:
            raise ValueError("needs at least one group of case names")
        for i, group in enumerate(value, 1):
            if len(group) < 2 and not any(ch in "*?[" for name in group for ch in name):
                raise ValueError(f"group {i} needs at least two case names (or a glob) to compare")
        return value

    @field_validator("extract")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is None:
            return value
        problem = _regex.syntax_problem(value, "i")  # searched ignoring case
        if problem:
            raise ValueError(problem)
        compiled = _regex.compiled(value)
        if compiled.groups != 1:
            raise ValueError(f"needs exactly one capturing group (the decision); it has {compiled.groups}")
        return value

    @field_validator("question")
    @classmethod
    def _exactly_one_source(cls, value: str | None, info: ValidationInfo) -> str | None:
        # reported on `question` so the loader can name a parameter; a broken `extract` is reported on its own
        if "extract" not in info.data:
            return value
        extract = info.data["extract"]
        if extract is None and value is None:
            raise ValueError("is needed when `extract` is absent: give `extract` (a regex) or `question` (asked of the judge)")
        if extract is not None and value is not None:
            raise ValueError("cannot be used together with `extract`: give exactly one of them")
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value


    def case_problems(self, case_names: list[str]) -> list[str]:
        problems = []
        for index, group in enumerate(self.groups, 1):
            members, unmatched = _members(group, case_names)
            if unmatched:
                problems.append(f"group {index} names {', '.join(repr(u) for u in unmatched)}, which match no case")
            elif len(members) < 2:
                problems.append(f"group {index} matches only {len(members)} case, so there is nothing to compare")
        return problems


def _members(group: list[str], cases: list[str]) -> tuple[list[str], list[str]]:
    """(case names the group's names and globs match, in case order; names that match nothing)."""
    members: list[str] = []
    unmatched = []
    for pattern in group:
        found = [c for c in cases if fnmatch.fnmatchcase(c, pattern)]
        if not found:
            unmatched.append(pattern)
        members += [c for c in found if c not in members]
    return members, unmatched


def _normalise(decision: str) -> str:
    return " ".join(decision.split()).casefold()


@register("consistent", ConsistentParams, scope="group", uses_model="optional")
def consistent(outputs_by_case: dict[str, list[str]], p: ConsistentParams, ctx: CheckContext) -> CheckResult:
    """Passes when every group of cases gives the same decision (the share of agreeing groups is the score)."""
    t = ctx.tr
    cases = list(outputs_by_case)
    resolved = []
    for index, group in enumerate(p.groups, 1):
        members, unmatched = _members(group, cases)
        if unmatched:
            return CheckResult.not_graded(t.gettext("Group {index} names {names}, which matches none of the cases graded here ({cases}).").format(
                index=index, names=", ".join(map(repr, unmatched)), cases=", ".join(cases) or t.gettext("none")))
        resolved.append(members)
    if p.question is not None and ctx.judge is None:
        return CheckResult.not_graded(t.gettext("This criterion asks a judge model for each output's decision (pass --model or --judge-model)."))

    decisions: dict[str, list[str | None]] = {}
    consultations: list[dict[str, Any]] = []
    for case in dict.fromkeys(c for members in resolved for c in members):
        decisions[case] = []
        for sample, output in enumerate(outputs_by_case[case]):
            if p.extract is not None:
                try:
                    match = _regex.search(p.extract, output, _regex.flags_of("i"))
                except _regex.RegexTimeout:
                    return CheckResult.not_graded(t.gettext(
                        "The pattern that reads each decision took more than {seconds} s on the output of {case}, so this criterion "
                        "was not graded (the exercise's author should simplify `extract`).").format(
                            seconds=f"{_regex.SEARCH_SECONDS:g}", case=case))
                decisions[case].append(_normalise(match.group(1) or "") or None if match else None)
                continue
            assert ctx.judge is not None and p.question is not None
            try:
                consultation = ask_question(ctx.judge, p.question, output)
            except JudgeCancelled:
                raise
            except JudgeError as exc:
                return CheckResult.not_graded(t.gettext("The judge model could not be asked: {problem}").format(problem=exc))
            consultations.append({"case": case, "sample": sample, **consultation.as_details()})
            if consultation.problem is not None:
                return CheckResult.not_graded(t.gettext("The judge gave no usable answer twice about {case} ({problem}).").format(
                                                  case=case, problem=consultation.problem),
                                              judge=consultations)
            decisions[case].append(_normalise(consultation.value.text))

    several = any(len(outputs) > 1 for outputs in outputs_by_case.values())
    agreed: list[str] = []
    problems: list[str] = []
    for index, members in enumerate(resolved, 1):
        given = [(f"{c} #{s + 1}" if several else c, d) for c in members for s, d in enumerate(decisions[c])]
        missing = [who for who, d in given if d is None]
        distinct = list(dict.fromkeys(d for _, d in given if d is not None))
        if not missing and len(distinct) <= 1:
            agreed.append(quote(distinct[0] if distinct else "", 30))
            continue
        parts = ([f"{who} → {quote(d, 30)}" for who, d in given if d is not None]
                 + [t.gettext("{who} gave no decision").format(who=who) for who in missing])
        problems.append(t.gettext("group {index} disagrees: {parts}").format(index=index, parts="; ".join(parts)))
    details: dict[str, Any] = {"decisions": decisions}
    if consultations:
        details["judge"] = consultations
    total = len(resolved)
    if not problems:
        return CheckResult.scored(1.0, t.gettext("All {total} group(s) agree ({decisions}).").format(
            total=total, decisions=", ".join(agreed)), **details)
    said = (t.gettext("{agreed} of {total} group(s) agree on the decision extracted with the pattern; {problems}.") if p.extract is not None
            else t.gettext("{agreed} of {total} group(s) agree on the decision answered by the judge; {problems}."))
    return CheckResult.scored(len(agreed) / total, said.format(agreed=len(agreed), total=total, problems=". ".join(problems)), **details)
