"""Running an attempt: render the messages, record the attempt, call the model per case and sample,
grade, record the result. The CLI and the TUI both call `run_attempt`; neither talks to litellm.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any, Callable

from lab import llm
from lab.errors import CancelledError, LabError, ModelError
from lab.exercise import Exercise
from lab.grading import GROUP_CASE, Grade, grade, grade_to_dict
from lab.judging import ModelJudge
from lab.prompts import build_messages
from lab.store import Store

DeltaHandler = Callable[[str, int, str], None]  # (case, sample, text)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens, self.cost_usd + other.cost_usd)


@dataclass(frozen=True)
class AttemptOutcome:
    attempt_id: int
    exercise: Exercise
    model: str
    grade: Grade
    outputs: dict[str, list[str]]
    usage: Usage
    duration_s: float
    judge: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return outcome_dict(self.exercise, self.model, self.grade, self.outputs, self.usage, self.attempt_id, self.duration_s)


def outcome_dict(exercise: Exercise, model: str, g: Grade, outputs: dict[str, list[str]], usage: Usage,
                 attempt_id: int | None, duration_s: float | None) -> dict[str, Any]:
    """The JSON shape of `lab run --json` (also what the store keeps as the attempt's result)."""
    graded = grade_to_dict(g)
    cases = []
    for case in exercise.cases:
        per_case = []
        for criterion in g.criteria:
            results = [r for r in criterion.results if r.case == case.name]
            if not results:
                continue
            graded_results = [r for r in results if not r.ungraded]
            per_case.append({
                "id": criterion.id,
                "score": round(sum(r.score for r in graded_results) / len(results), 4),
                "passed": all(r.passed and not r.ungraded for r in results),
                "ungraded": any(r.ungraded for r in results),
                "reason": results[0].reason if len(results) == 1 else "; ".join(f"#{r.sample + 1}: {r.reason}" for r in results),
            })
        cases.append({"name": case.name, "outputs": outputs.get(case.name, []), "criteria": per_case})
    group = [c for c in graded["criteria"] if any(r.get("case") == GROUP_CASE for r in c["results"])]
    return {
        "exercise": exercise.id,
        "exercise_hash": exercise.content_hash,
        "model": model,
        "passed": graded["passed"],
        "score": graded["score"],
        "pass_mark": graded["pass_mark"],
        "decided": graded["decided"],
        "criteria": graded["criteria"],
        "cases": cases,
        "group_criteria": [c["id"] for c in group],
        "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens, "cost_usd": round(usage.cost_usd, 6)},
        "duration_s": None if duration_s is None else round(duration_s, 3),
        "attempt_id": attempt_id,
    }


def call_config_for(exercise: Exercise, base: llm.CallConfig) -> llm.CallConfig:
    """The learner's model and endpoint with the exercise's call settings (temperature, max_tokens...)."""
    return replace(base, params={**exercise.meta.model.as_kwargs(), **base.params})


def run_attempt(
    exercise: Exercise,
    text: str,
    *,
    config: llm.CallConfig,
    store: Store,
    samples: int | None = None,
    hints_used: int = 0,
    concurrency: int = 4,
    judge_config: llm.CallConfig | None = None,
    on_delta: DeltaHandler | None = None,
    on_output: Callable[[str, int, str], None] | None = None,
    on_started: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
) -> AttemptOutcome:
    """Run one graded attempt. Raises PromptError before anything is recorded when the text is
    unusable; ModelError or CancelledError after recording the attempt as failed or cancelled."""
    built = build_messages(exercise, text)  # PromptError: the learner's text stays where it is
    n_samples = samples or exercise.rubric.samples
    call = call_config_for(exercise, config)
    attempt_id = store.begin_attempt(
        exercise_id=exercise.id, exercise_hash=exercise.content_hash, track=exercise.track, model=config.model,
        api_base=config.api_base, prompt=text, samples=n_samples, hints_used=hints_used,
    )
    if on_started is not None:
        on_started(attempt_id)
    started = time.monotonic()
    cancel = cancel or threading.Event()
    outputs: dict[str, list[str | None]] = {b.case: [None] * n_samples for b in built}
    usage = Usage()
    lock = threading.Lock()

    def one_call(case: str, sample: int, messages: list[dict[str, str]]) -> None:
        nonlocal usage
        handler = (lambda delta: on_delta(case, sample, delta)) if on_delta else None
        completion = llm.complete(messages, call, on_delta=handler, cancel=cancel)
        with lock:
            outputs[case][sample] = completion.text
            usage = usage + Usage(completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
        if on_output:
            on_output(case, sample, completion.text)

    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="lab-call") as pool:
            futures = [pool.submit(one_call, b.case, s, b.messages) for b in built for s in range(n_samples)]
            try:
                done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            except BaseException:
                cancel.set()  # Ctrl-C: queued calls must not start while the pool waits for those in flight
                raise
            failure = next((f.exception() for f in done if f.exception() is not None), None)
            if failure is not None:
                cancel.set()  # stop the other calls: the attempt has failed already
                wait(pending)
                raise failure
        complete_outputs = {case: [o or "" for o in outs] for case, outs in outputs.items()}
        judge = ModelJudge(judge_config or replace(config, params={}), cancel=cancel) if needs_judge(exercise) else None
        g = grade(exercise, complete_outputs, judge=judge, attempts={b.case: b.attempt for b in built})
        if judge is not None:
            usage = usage + Usage(judge.usage.prompt_tokens, judge.usage.completion_tokens, judge.usage.cost_usd)
    except BaseException as exc:
        status = "cancelled" if isinstance(exc, (CancelledError, KeyboardInterrupt)) else "failed"
        if isinstance(exc, KeyboardInterrupt):
            message = str(CancelledError())
        else:
            message = str(exc) if isinstance(exc, LabError) else f"internal error: {type(exc).__name__}: {exc}"
        partial = {case: [o for o in outs if o is not None] for case, outs in outputs.items()}
        store.finish_attempt(
            attempt_id, status=status, error=message, result={"cases": [{"name": c, "outputs": o} for c, o in partial.items()]},
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, cost_usd=usage.cost_usd,
            duration_s=time.monotonic() - started,
        )
        if isinstance(exc, ModelError | CancelledError):
            raise
        if isinstance(exc, KeyboardInterrupt):
            raise CancelledError() from exc
        raise
    duration = time.monotonic() - started
    outcome = AttemptOutcome(attempt_id, exercise, config.model, g, complete_outputs, usage, duration)
    store.finish_attempt(
        attempt_id, status="graded", score=g.score, passed=g.passed, result=outcome.to_dict(),
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, cost_usd=usage.cost_usd, duration_s=duration,
    )
    return outcome


def needs_judge(exercise: Exercise) -> bool:
    """Whether any criterion of the exercise may ask a model (a judge) to decide."""
    from graders import get_check

    return any(get_check(c.check).uses_model != "never" for c in exercise.rubric.criteria)
