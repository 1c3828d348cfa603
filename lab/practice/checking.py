"""`lab check`: grade every example's outputs and compare the verdict with what the author expects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from graders.registry import Judge
from lab.errors import PromptError
from lab.format.conversation import transcript_of
from lab.format.exercise import Example, Exercise
from lab.format.messages import build_messages
from lab.format.templating import render_learner_text
from lab.format.tools import ToolCall
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


def example_texts(exercise: Exercise, example: Example) -> dict[str, Any]:
    """An example's attempt as the learner's texts by name (the shapes were checked when it loaded)."""
    names = exercise.texts
    if len(names) > 1 and isinstance(example.attempt, dict):
        return dict(example.attempt)
    return {names[0]: example.attempt}


def example_calls(example: Example, case_name: str, sample: int) -> list[ToolCall]:
    """An example's calls for one sample of a case, as the model would have sent them (ids the lab makes up)."""
    calls = []
    for number, call in enumerate(example.calls_for(case_name, sample), 1):
        arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments, ensure_ascii=False)
        calls.append(ToolCall(f"call_{number}", call.name, arguments))
    return calls


def check_examples(exercise: Exercise, judge: Judge | None = None) -> list[ExampleVerdict]:
    """Grade each example as an attempt would be graded: its outputs are what the model said (after any
    prefill), each case's conversation rebuilt around them (with the example's `calls`, answered by the
    exercise's tools), so every `reads:` and the tool checks read what they would read."""
    verdicts = []
    for index, example in enumerate(exercise.meta.examples):
        try:
            plans = {p.case: p for p in build_messages(exercise, example_texts(exercise, example))}
        except PromptError:  # an empty attempt: graded on its outputs alone, as a bare text
            plans = {}
        outputs: dict[str, list[str]] = {}
        transcripts = {}
        for case in exercise.cases:
            if case.name not in example.outputs:
                continue
            plan = plans.get(case.name)
            if plan is None:
                outputs[case.name] = example.outputs_for(case.name)
                continue
            said = example.conversations_for(case.name) if plan.learner_turns else [[o] for o in example.outputs_for(case.name)]
            transcripts[case.name] = [transcript_of(plan, answers, example_calls(example, case.name, sample))
                                      for sample, answers in enumerate(said)]
            outputs[case.name] = [t.output for t in transcripts[case.name]]
        attempts = None if plans else {case.name: render_learner_text(str(example.attempt), exercise.learner_variables(case.name), case.name)
                                       for case in exercise.cases}
        g = grade(exercise, outputs, judge=judge, attempts=attempts, lang="en", transcripts=transcripts, plans=plans)
        verdicts.append(ExampleVerdict(exercise, index, example.expect, g))
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
    def judged(self) -> bool:
        """Whether the solution's grade rests on a judge model: a criterion that always asks one, or one that asked."""
        from graders import get_check
        from lab.practice.grading import grade_to_dict
        from lab.practice.judging import stored_exchanges

        if self.grade is None:
            return False
        return (any(get_check(c.check).uses_model == "always" for c in self.grade.criteria)
                or bool(stored_exchanges(grade_to_dict(self.grade))))

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
    from lab.format.messages import text_blocks, what_text
    from lab.practice.attempts import run_attempt
    from lab.practice.store import Store

    solution = text_blocks(exercise, "solution")
    if not any(v.strip() if isinstance(v, str) else v for v in solution.values()):
        return SolutionVerdict(exercise, None)
    missing = [name for name in exercise.texts if name not in solution]
    if missing:
        blocks = ", ".join(f"{{% block solution_{name} %}}" for name in missing)
        return SolutionVerdict(exercise, None, f"the solution gives no {' and no '.join(what_text(n) for n in missing)}: add {blocks}")
    with tempfile.TemporaryDirectory(prefix="lab-check-") as scratch, Store(Path(scratch) / "check.db") as store:
        try:
            outcome = run_attempt(exercise, solution, config=config, store=store, judge_config=judge_config,
                                  concurrency=concurrency)
        except LabError as exc:  # a model error, or a solution that is not a usable prompt
            return SolutionVerdict(exercise, None, str(exc))
    return SolutionVerdict(exercise, outcome.grade)
