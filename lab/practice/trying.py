"""Trying a prompt on one case: one call, the answer, and how each criterion reads it, as a preview.

A try is a probe, not an attempt: it is not recorded as one, so it never counts as a try at the
exercise, in progress, mastery or an export. Only what it cost is kept (the store's `tries`), since
the day's spending and its cap must see every dollar. Criteria that look at every case at once
(group checks) cannot read one case alone: the preview names them instead of guessing.
"""

from __future__ import annotations

import difflib
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from lab.errors import LabError, PromptError
from lab.format.conversation import Dialogue
from lab.format.exercise import Exercise
from lab.format.messages import build_messages, learner_texts
from lab.models import llm
from lab.practice.attempts import ANSWER_MODEL, ROUNDS_SPENT, Usage, call_config_for, calls_of, needs_judge
from lab.practice.grading import GROUP_CASE, CriterionGrade, grade
from lab.practice.judging import ModelJudge
from lab.practice.store import Store
from lab.settings.i18n import translator


@dataclass(frozen=True)
class CriterionReading:
    """How one criterion reads the tried answer."""

    id: str
    weight: float
    passed: bool
    ungraded: bool
    score: float
    reason: str
    feedback: str | None  # the author's advice, when the answer failed it

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "weight": self.weight, "passed": self.passed, "ungraded": self.ungraded,
                "score": round(self.score, 4), "reason": self.reason, "feedback": self.feedback}


@dataclass(frozen=True)
class TryOutcome:
    exercise: Exercise
    case: str
    model: str
    output: str
    finish_reason: str | None
    readings: tuple[CriterionReading, ...]
    whole: tuple[str, ...]  # criteria that read every case at once: not previewed on one case
    elsewhere: tuple[str, ...]  # criteria that do not apply to this case
    usage: Usage
    duration_s: float
    cached: bool

    @property
    def passing(self) -> int:
        return sum(1 for r in self.readings if r.passed)

    def to_dict(self) -> dict[str, Any]:
        """`lab try --json`."""
        return {
            "exercise": self.exercise.id, "case": self.case, "model": self.model, "output": self.output,
            "finish_reason": self.finish_reason, "criteria": [r.to_dict() for r in self.readings],
            "not_previewed": list(self.whole), "not_for_this_case": list(self.elsewhere),
            "usage": {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens,
                      "cost_usd": round(self.usage.cost_usd, 6)},
            "duration_s": round(self.duration_s, 3), "cached": self.cached, "attempt": False,
        }


def pick_case(exercise: Exercise, name: str | None) -> str:
    """The case to try: `name`, else the first; a LabError naming the cases (and the closest) for a wrong name."""
    names = [c.name for c in exercise.cases]
    if name is None:
        return names[0]
    if name in names:
        return name
    t = translator(exercise.lang)
    close = difflib.get_close_matches(name, names, n=1)
    hint = t.gettext(" Did you mean '{name}'?").format(name=close[0]) if close else ""
    raise LabError(t.gettext("{id} has no case '{case}'; its cases are: {cases}.").format(
        id=exercise.id, case=name, cases=", ".join(names)) + hint)


def try_case(
    exercise: Exercise,
    text: Any,
    case: str | None = None,
    *,
    config: llm.CallConfig | None,
    store: Store,
    judge_config: llm.CallConfig | None = None,
    on_delta: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> TryOutcome:
    """Send `text` (the learner's text, or their texts by name) for one case (one call, or one per message
    of a conversation the learner writes; none for `writes: answer`), grade that answer as a preview and
    record what it cost. Raises PromptError, ModelError or CancelledError; nothing is recorded as an attempt."""
    name = pick_case(exercise, case)
    built = next(b for b in build_messages(exercise, learner_texts(exercise, text)) if b.case == name)
    answering = exercise.writes == "answer"
    if config is None and not answering:
        raise PromptError("No model is chosen for this exercise: pass --model (or set LAB_MODEL).")
    model = ANSWER_MODEL if answering else config.model  # type: ignore[union-attr]
    started = time.monotonic()
    usage = Usage()
    cached = False
    judge: ModelJudge | None = None
    try:
        transcripts = {}
        if answering:
            output, finish = built.attempt, None
        else:
            dialogue, finish, cached = Dialogue(built), None, True
            call_config = call_config_for(exercise, config)  # type: ignore[arg-type]
            # the same walk as an attempt's: a conversation's messages one call each, and a round per tool call
            while (messages := dialogue.next_call()) is not None:
                completion = llm.complete(messages, call_config, on_delta=on_delta, cancel=cancel, tools=built.tools, cache_slot=0)
                said = dialogue.answer(completion.text, completion.finish_reason == "length", calls_of(completion))
                spent = ROUNDS_SPENT if said.calls and said.cut_off and completion.finish_reason != "length" else completion.finish_reason
                finish = finish if finish in ("length", ROUNDS_SPENT) else spent
                cached = cached and completion.cached
                usage = usage + Usage(completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
            transcript = dialogue.transcript()
            output, transcripts = transcript.output, {name: [transcript]}
        judge_base = judge_config or (replace(config, params={}) if config is not None else None)
        if judge_base is not None and needs_judge(exercise):
            judge = ModelJudge(judge_base, cancel=cancel)
        g = grade(exercise, {name: [output]}, judge=judge, transcripts=transcripts, plans={name: built})
    finally:
        if judge is not None:
            usage = usage + Usage(judge.usage.prompt_tokens, judge.usage.completion_tokens, judge.usage.cost_usd)
            cached = cached and judge.cached_calls == judge.calls
        if usage.cost_usd or usage.prompt_tokens or usage.completion_tokens:  # what was used is paid for
            store.record_try(exercise_id=exercise.id, case=name, model=model, prompt_tokens=usage.prompt_tokens,
                             completion_tokens=usage.completion_tokens, cost_usd=usage.cost_usd, cached=cached)
    readings, whole, elsewhere = _readings(exercise, g.criteria, name)
    return TryOutcome(exercise, name, model, output, finish, readings, whole, elsewhere, usage,
                      time.monotonic() - started - llm.load_overlap(started), cached)


def _readings(exercise: Exercise, criteria: tuple[CriterionGrade, ...], case: str) -> tuple[
        tuple[CriterionReading, ...], tuple[str, ...], tuple[str, ...]]:
    readings, whole, elsewhere = [], [], []
    for c in criteria:
        mine = [r for r in c.results if r.case == case]
        if any(r.case == GROUP_CASE for r in c.results):
            whole.append(c.id)
            continue
        if not mine:
            elsewhere.append(c.id)
            continue
        r = mine[0]
        failed = not r.passed and not r.ungraded
        readings.append(CriterionReading(c.id, c.weight, r.passed and not r.ungraded, r.ungraded, r.score, r.reason,
                                         c.feedback if failed else None))
    return tuple(readings), tuple(whole), tuple(elsewhere)


def try_lines(outcome: TryOutcome, paint: Any, tr: Any) -> list[str]:
    """The preview as terminal text: each criterion's reading of the answer, and what it is not."""
    from lab.practice.report import mark, score_label

    t = tr
    lines = [paint.bold(t.gettext("Preview on case '{case}' (a try: not an attempt, not counted):").format(case=outcome.case))]
    width = min(max([len(r.id) for r in outcome.readings] + [8]), 28)
    for r in outcome.readings:
        lines.append(f" {mark(r.passed, r.ungraded, paint)} {r.id:<{width}} {score_label(r.score, r.passed):>5}  {r.reason}")
        if r.feedback:
            lines.append(f"   {'':<{width}}        {paint.dim('→ ' + r.feedback)}")
    if outcome.readings:
        lines.append(t.ngettext("{passing} of {total} criterion passes on this case.",
                                "{passing} of {total} criteria pass on this case.", len(outcome.readings)).format(
            passing=outcome.passing, total=len(outcome.readings)))
    if outcome.whole:
        lines.append(paint.dim(t.gettext("Not previewed (they read every case at once): {criteria}.").format(
            criteria=", ".join(outcome.whole))))
    if outcome.elsewhere:
        lines.append(paint.dim(t.gettext("Not for this case: {criteria}.").format(criteria=", ".join(outcome.elsewhere))))
    return lines
