"""`lab check`: grade every example's outputs and compare the verdict with what the author expects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from graders.registry import Judge
from lab.format.exercise import Exercise
from lab.format.templating import render_learner_text
from lab.practice.grading import Grade, grade


@dataclass(frozen=True)
class ExampleVerdict:
    exercise: Exercise
    index: int
    expect: Literal["pass", "fail"]
    grade: Grade

    @property
    def verdict(self) -> Literal["pass", "fail", "undecided"]:
        if not self.grade.decided:
            return "undecided"
        return "pass" if self.grade.passed else "fail"

    @property
    def contradicts(self) -> bool:
        return self.verdict != "undecided" and self.verdict != self.expect

    @property
    def needs_model(self) -> bool:
        """Undecided because a criterion that asks a model had none (not, say, a pattern past its time bound)."""
        from graders import get_check

        checks = {c.id: c.check for c in self.exercise.meta.rubric.criteria}
        return self.verdict == "undecided" and any(get_check(checks[name]).uses_model != "never" for name in self.grade.ungraded if name in checks)

    @property
    def label(self) -> str:
        name = self.exercise.meta.examples[self.index].name
        return f"example {self.index + 1}" + (f" ({name})" if name else "")


def check_examples(exercise: Exercise, judge: Judge | None = None) -> list[ExampleVerdict]:
    verdicts = []
    for index, example in enumerate(exercise.meta.examples):
        outputs = {case.name: example.outputs_for(case.name) for case in exercise.cases if case.name in example.outputs}
        # the loader has rendered each example's attempt for every case already, so this cannot fail here
        attempts = {case.name: render_learner_text(example.attempt, exercise.learner_variables(case.name), case.name)
                    for case in exercise.cases}
        verdicts.append(ExampleVerdict(exercise, index, example.expect, grade(exercise, outputs, judge=judge, attempts=attempts, lang="en")))
    return verdicts


def coverage_warnings(exercise: Exercise) -> list[str]:
    """What an exercise lacks to prove its rubric: a passing and a failing example."""
    expects = {e.expect for e in exercise.meta.examples}
    missing = [kind for kind in ("pass", "fail") if kind not in expects]
    return [f"has no example expected to {kind}" for kind in missing]


@dataclass(frozen=True)
class SolutionVerdict:
    """`lab check --solution`: the exercise's own solution, sent as a learner would send it."""

    exercise: Exercise
    grade: Grade | None  # None: the exercise has no solution block, or the call failed
    error: str | None = None

    @property
    def verdict(self) -> Literal["pass", "fail", "undecided", "none", "error"]:
        if self.error is not None:
            return "error"
        if self.grade is None:
            return "none"
        if not self.grade.decided:
            return "undecided"
        return "pass" if self.grade.passed else "fail"


def check_solution(exercise: Exercise, config: Any, judge_config: Any, *, concurrency: int = 4) -> SolutionVerdict:
    """Run the solution block through the model (an answer exercise: graded as written) and grade it.
    The run goes to a scratch database: an author's check is no attempt of the author's."""
    import tempfile
    from pathlib import Path

    from lab.errors import LabError
    from lab.format.messages import render_text
    from lab.practice.attempts import run_attempt
    from lab.practice.store import Store

    solution = render_text(exercise, "solution")
    if not solution or not solution.strip():
        return SolutionVerdict(exercise, None)
    with tempfile.TemporaryDirectory(prefix="lab-check-") as scratch, Store(Path(scratch) / "check.db") as store:
        try:
            outcome = run_attempt(exercise, solution, config=config, store=store, judge_config=judge_config,
                                  concurrency=concurrency)
        except LabError as exc:  # a model error, or a solution that is not a usable prompt
            return SolutionVerdict(exercise, None, str(exc))
    return SolutionVerdict(exercise, outcome.grade)
