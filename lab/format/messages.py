"""The texts of an exercise, rendered: the brief and friends, and the messages sent per case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2.exceptions import TemplateError

from lab.errors import PromptError
from lab.format.exercise import Exercise
from lab.format.templating import render_learner_text


def render_text(exercise: Exercise, block: str) -> str | None:
    """An exercise-level block (brief, starter, solution, or a fixed system prompt), or None."""
    return exercise.compiled.render_block(block, exercise.variables(None, ""))


@dataclass(frozen=True)
class CaseMessages:
    case: str
    messages: list[dict[str, str]]
    attempt: str = ""  # the learner's text as rendered for this case


def build_messages(exercise: Exercise, learner_text: str) -> list[CaseMessages]:
    """The chat messages of every case for the learner's text; raises PromptError on bad text."""
    if not learner_text.strip():
        what = {"system": "system prompt", "answer": "answer"}.get(exercise.writes, "prompt")
        raise PromptError(f"Your {what} is empty: write one before sending.")
    built = []
    for case in exercise.cases:
        attempt = render_learner_text(learner_text, exercise.learner_variables(case.name), case.name)
        variables = exercise.variables(case.name, attempt)
        system = _exercise_block(exercise, "system", variables, case.name)
        user = _exercise_block(exercise, "user", variables, case.name)
        if exercise.writes == "system":
            system = system if system is not None else attempt
        else:
            user = user if user is not None else attempt
        messages = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": user or ""})
        built.append(CaseMessages(case.name, messages, attempt))
    return built


def _exercise_block(exercise: Exercise, block: str, variables: dict[str, Any], case: str) -> str | None:
    """A per-case block with the learner's text in it. Validation rendered it with a placeholder text; a
    learner's text can still meet a bound of the sandbox (a text placed three times, past its limit)."""
    try:
        return exercise.compiled.render_block(block, variables)
    except TemplateError as exc:
        raise PromptError(f"The exercise's {block} message cannot be made with your text for case '{case}': "
                          f"{str(exc).rstrip('.')}.") from None
