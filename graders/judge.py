"""`judge`: a model grades the output against a rubric written in plain words.

The judge answers on the criterion's scale; the score is normalised to [0,1] and compared with the
threshold here — the judge's own `passed` is recorded but never decides (promptfoo #2998). How the
candidate's text is kept from talking to the judge is in `graders._judging`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from graders._judging import SYSTEM, Consultation, Unusable, consult, fence, json_object, last_marker_line, uses_schema
from graders._text import quote
from graders.registry import CheckContext, CheckResult, Judge, Params, register
from graders.errors import JudgeCancelled, JudgeError

Scale = Literal["pass-fail", "1-5", "0-10"]
DEFAULT_THRESHOLDS: dict[str, float] = {"pass-fail": 1.0, "1-5": 0.75, "0-10": 0.7}


class JudgeParams(Params):
    rubric: str
    scale: Scale = "pass-fail"
    threshold: float | None = Field(default=None, ge=0, le=1)

    @field_validator("rubric")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must say what the judge looks for")
        return value

    @property
    def pass_mark(self) -> float:
        return DEFAULT_THRESHOLDS[self.scale] if self.threshold is None else self.threshold


@dataclass(frozen=True)
class ScaleSpec:
    name: str
    low: int
    high: int
    meaning: str
    grade_words: str  # what goes after `GRADE:` in the final-line format

    def normalise(self, value: int) -> float:
        return (value - self.low) / (self.high - self.low)

    def label(self, value: int) -> str:
        if self.name == "pass-fail":
            return "PASS" if value else "FAIL"
        return f"{value}/{self.high}"

    def lowest_passing(self, threshold: float) -> int | None:
        return next((v for v in range(self.low, self.high + 1) if self.normalise(v) >= threshold - 1e-9), None)


SCALES = {
    "pass-fail": ScaleSpec("pass-fail", 0, 1, "PASS if the output fully meets the rubric, otherwise FAIL", "PASS or FAIL"),
    "1-5": ScaleSpec("1-5", 1, 5, "an integer from 1 (does not meet the rubric at all) to 5 (meets it fully)", "an integer from 1 to 5"),
    "0-10": ScaleSpec("0-10", 0, 10, "an integer from 0 (does not meet the rubric at all) to 10 (meets it fully)", "an integer from 0 to 10"),
}


_LABEL = re.compile(r"^(?:reasoning|explanation|analysis)\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    value: int
    reasoning: str
    claimed_passed: bool | None


def grade_messages(rubric: str, output: str, scale: ScaleSpec, schema: bool) -> list[dict[str, str]]:
    tag, block = fence(output, rubric, scale.name)
    if schema:
        answer = ("Answer with a JSON object: `reasoning` (a few sentences on how the output meets or misses the rubric), "
                  f"`score` ({scale.meaning}{'; as 1 or 0' if scale.name == 'pass-fail' else ''}) and `passed` (whether it meets the rubric).")
    else:
        answer = ("Think step by step about how the output meets or misses the rubric, then end your answer with one line "
                  f"and nothing after it:\nGRADE: <score>\nwhere <score> is {scale.grade_words}.")
    user = (f"Rubric:\n{rubric.strip()}\n\nScale: {scale.name} — {scale.meaning}.\n\n"
            f"The output to grade:\n{block}\n\n{answer}")
    return [{"role": "system", "content": SYSTEM.format(tag=tag)}, {"role": "user", "content": user}]


def response_schema(scale: ScaleSpec) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "score": {"type": "integer", "enum": list(range(scale.low, scale.high + 1))},
            "passed": {"type": "boolean"},
        },
        "required": ["reasoning", "score", "passed"],
        "additionalProperties": False,
    }


def _value(raw: Any, scale: ScaleSpec) -> int:
    if isinstance(raw, str):
        word = raw.strip().strip(".").upper()
        if scale.name == "pass-fail" and word in ("PASS", "FAIL"):
            return 1 if word == "PASS" else 0
        head = word.split("/")[0].split(" OUT OF ")[0].strip()
        try:
            raw = float(head)
        except ValueError:
            raise Unusable(f"the grade {quote(str(raw), 30)} is not {scale.grade_words}") from None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
        raise Unusable(f"the score {raw!r} is not {scale.grade_words}")
    value = int(raw)
    if not scale.low <= value <= scale.high:
        raise Unusable(f"the score {value} is outside {scale.low}..{scale.high}")
    return value


def parse_answer(answer: str, scale: ScaleSpec) -> Verdict:
    """A verdict from a JSON object or, failing that, from the last `GRADE:` line; Unusable otherwise."""
    data = json_object(answer)
    if data is not None:
        if "score" not in data:
            raise Unusable("the JSON answer has no `score`")
        claimed = data.get("passed")
        reasoning = data.get("reasoning")
        return Verdict(_value(data["score"], scale), reasoning if isinstance(reasoning, str) else "",
                       claimed if isinstance(claimed, bool) else None)
    line = last_marker_line(answer, "GRADE")
    if line is None:
        raise Unusable("it has no `GRADE:` line and is not a JSON object")
    reasoning = _LABEL.sub("", answer[: answer.upper().rfind("GRADE")].strip())
    return Verdict(_value(line, scale), reasoning, None)


def ask_grade(judge: Judge, rubric: str, output: str, scale: ScaleSpec) -> Consultation:
    schema = uses_schema(judge)
    return consult(
        judge, grade_messages(rubric, output, scale, schema), lambda answer: parse_answer(answer, scale),
        schema=response_schema(scale) if schema else None,
        reminder=(f"Answer with the JSON object asked for; `score` is {scale.grade_words}." if schema
                  else f"End your answer with the line GRADE: <score>, where <score> is {scale.grade_words}."),
    )


@register("judge", JudgeParams, uses_model="always")
def judge(output: str, p: JudgeParams, ctx: CheckContext) -> CheckResult:
    """Passes when a judge model finds that the output meets `rubric` (on `scale`, at `threshold`)."""
    t = ctx.tr
    if ctx.judge is None:
        return CheckResult.not_graded(t.gettext("This criterion needs a judge model to grade it (pass --model or --judge-model)."))
    scale = SCALES[p.scale]
    try:
        consultation = ask_grade(ctx.judge, p.rubric, output, scale)
    except JudgeCancelled:
        raise
    except JudgeError as exc:
        return CheckResult.not_graded(t.gettext("The judge model could not be asked: {problem}").format(problem=exc))
    if consultation.problem is not None:
        return CheckResult.not_graded(
            t.gettext("The judge gave no usable answer twice ({problem}); this criterion is ungraded.").format(problem=consultation.problem),
            judge=consultation.as_details())
    verdict: Verdict = consultation.value
    score = scale.normalise(verdict.value)
    passed = score >= p.pass_mark - 1e-9
    details = {**consultation.as_details(), "scale": scale.name, "grade": verdict.value, "threshold": p.pass_mark}
    if verdict.claimed_passed is not None and verdict.claimed_passed != passed:
        details["judge_passed"] = verdict.claimed_passed  # inconsistent answer: the score decided
    # the judge's own reasoning is quoted in the judge's words; only the lab's frame is translated
    if scale.name == "pass-fail":
        head = t.gettext("The judge says {grade}").format(grade=scale.label(verdict.value))
    else:
        needed = scale.lowest_passing(p.pass_mark)
        head = (t.gettext("The judge gave {grade} ({needed} needed)") if needed is not None
                else t.gettext("The judge gave {grade}")).format(grade=scale.label(verdict.value), needed=needed)
    reason = f"{head}: {quote(verdict.reasoning, 240)}" if verdict.reasoning.strip() else f"{head}."
    return CheckResult(score, passed, reason, details={"judge": details})
