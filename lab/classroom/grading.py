"""Grading a cohort: each learner's picked prompt is run again on the trainer's model and graded with
the exercise's rubric (samples and judges included), everything recorded in `DIR/cohort.db`.

The calls of all submissions run at once in one event loop (`lab.models.llm.AsyncCaller`). Every answer is
committed before anything else is done with it and a grading reads back what is recorded, so a run
killed at any moment resumes without a second call for recorded work. `max_cost` is a budget: a call
starts only while the spent cost, the estimates of the calls in flight and its own estimate stay under
the cap; the first call refused stops new work, and what is left stays pending for the next run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from lab.classroom.cohort import CohortStore
from lab.classroom.records import ResultRow, task_key
from lab.classroom.submissions import InputProblem, Pick, Submission, pick
from lab.errors import CancelledError, LabError, ModelError, PromptError
from lab.format.conversation import Dialogue, Transcript
from lab.format.messages import build_messages
from lab.format.tools import ToolCall
from lab.models import llm
from lab.practice.attempts import Usage, call_config_for, needs_judge, outcome_dict
from lab.practice.grading import grade
from lab.practice.judging import judge_params

DEFAULT_COMPLETION_TOKENS = 256  # a call's answer length before any is seen, when the exercise sets no max_tokens


class CapReached(CancelledError):
    """The next call would pass --max-cost. A CancelledError so that a check asking a judge lets it through."""

    def __init__(self) -> None:
        super().__init__("the cost cap was reached")


@dataclass
class Progress:
    total: int
    done: int = 0
    failed: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        left = self.total - self.done - self.failed
        return left / self.rate if self.rate > 0 else None


@dataclass
class CohortOutcome:
    results: list[ResultRow]
    problems: list[InputProblem]
    learners: list[str]
    exercises: list[str]
    calls: int  # model calls this run made
    run_usage: Usage
    wall_s: float
    capped: bool
    left: list[ResultRow]  # not graded (pending after the cap, failed, ungraded criteria)
    mismatches: list[ResultRow]


class Budget:
    """The cost cap of one run, by reservation: estimates held for calls in flight until their cost is known."""

    def __init__(self, cap: float | None):
        self.cap = cap
        self.spent = 0.0
        self.held = 0.0
        self.reached = False
        self.longest: dict[str, int] = {}  # model -> the most completion tokens seen
        self.dearest: dict[str, float] = {}  # model -> the dearest call seen (a proxy's price for a name no table knows)

    def estimate(self, messages: list[dict[str, str]], config: llm.CallConfig) -> float:
        prices = llm.price_per_token(config.model)
        if prices is None:
            return self.dearest.get(config.model, 0.0)
        chars = sum(len(str(m.get("content") or "")) for m in messages)
        prompt_tokens = math.ceil(chars / 3) + 4 * len(messages)  # generous: English runs about 4 characters a token
        answer = config.params.get("max_tokens") or self.longest.get(config.model) or DEFAULT_COMPLETION_TOKENS
        return prompt_tokens * prices[0] + int(answer) * prices[1]

    def reserve(self, amount: float) -> None:
        if self.cap is None:
            return
        if self.reached or self.spent + self.held + amount > self.cap + 1e-12:
            self.reached = True
            raise CapReached()
        self.held += amount

    def settle(self, held: float, completion: llm.Completion | None, model: str) -> None:
        self.held -= held
        if completion is not None:
            self.spent += completion.cost_usd
            self.longest[model] = max(self.longest.get(model, 0), completion.completion_tokens)
            self.dearest[model] = max(self.dearest.get(model, 0.0), completion.cost_usd)


def _key(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([messages, params], ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:20]


class _RecordedJudge:
    """The judge of one grading: answers recorded earlier are read back, new ones are asked through the
    run's event loop and committed at once. Checks call it from the grading thread."""

    def __init__(self, grader: "_Grader", row: ResultRow, config: llm.CallConfig, recorded: dict[str, Any]):
        self.grader, self.row, self.config, self.recorded = grader, row, config, recorded
        self.seen: dict[str, int] = {}
        self.structured: bool | None = None

    @property
    def model(self) -> str:
        return self.config.model

    def supports_schema(self) -> bool:
        if self.structured is None:
            # asking litellm imports it; an OpenAI-compatible server is asked for a schema only when litellm says the name has one
            self.structured = llm.supports_response_schema(self.config.model) if not llm.speaks_openai(self.config) else False
        return self.structured

    def ask(self, messages: list[dict[str, str]], *, response_schema: dict[str, Any] | None = None) -> str:
        params = judge_params(response_schema, self.config.model)
        config = replace(self.config, params={**self.config.params, **params})
        base = _key(messages, params)
        n = self.seen.get(base, 0)
        self.seen[base] = n + 1
        call = f"judge:{base}:{n}"  # the same question twice in one grading is two calls, as it was the first time
        if call in self.recorded:
            return str(self.recorded[call].text)
        future = asyncio.run_coroutine_threadsafe(self.grader.call(self.row, call, "judge", messages, config), self.grader.loop)
        return future.result().text


class _Grader:
    def __init__(self, store: CohortStore, caller: llm.AsyncCaller, budget: Budget, progress: Progress,
                 on_progress: Callable[[Progress], None] | None):
        self.store, self.caller, self.budget, self.progress, self.on_progress = store, caller, budget, progress, on_progress
        self.loop = asyncio.get_running_loop()
        self.calls = 0
        self.usage = Usage()

    async def call(self, row: ResultRow, call: str, kind: str, messages: list[dict[str, Any]], config: llm.CallConfig,
                   tools: list[dict[str, Any]] | None = None) -> llm.Completion:
        estimate = self.budget.estimate(messages, config)
        held = 0.0

        def reserve() -> None:  # CapReached: nothing is sent
            nonlocal held
            self.budget.reserve(estimate)
            held = estimate

        completion = None
        try:
            completion = await self.caller.complete(messages, config, before_send=reserve, tools=tools)
        finally:
            self.budget.settle(held, completion, config.model)
        # committed before the answer is used (an answer that called tools keeps its calls with its words)
        self.store.record_call(row.id, call, kind, replace(completion, text=recorded_text(completion)))
        self.calls += 1
        self.usage = self.usage + Usage(completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
        self.progress.calls += 1
        self.progress.cost_usd += completion.cost_usd
        return completion

    async def grade_one(self, row: ResultRow, exercise: Any, config: llm.CallConfig, judge_config: llm.CallConfig | None, samples: int) -> str:
        started = time.monotonic()
        try:
            built = build_messages(exercise, row.learner_texts)
        except PromptError as exc:
            self.store.finish(row.id, status="failed", error=f"the prompt cannot be used: {exc}")
            return "failed"
        call_config = call_config_for(exercise, config)
        recorded = self.store.calls(row.id)
        outputs: dict[str, list[str]] = {b.case: [""] * samples for b in built}
        transcripts: dict[str, list[Transcript | None]] = {b.case: [None] * samples for b in built}

        async def answer(plan: Any, sample: int) -> None:
            # a case's calls one after the other: each message the learner wrote goes after the answer before it
            dialogue = Dialogue(plan)
            while (messages := dialogue.next_call()) is not None:
                key = f"answer:{plan.case}:{sample}" + (f":{dialogue.turn}" if plan.learner_turns else "") \
                    + (f":r{dialogue.rounds}" if dialogue.rounds else "")  # each round of tool calls is a call of its own
                found = recorded.get(key)
                said = found.text if found is not None else recorded_text(await self.call(row, key, "answer", messages, call_config,
                                                                                          plan.tools))
                text, calls = from_recorded(said)
                dialogue.answer(text, calls=calls)
            transcript = dialogue.transcript()
            outputs[plan.case][sample] = transcript.output
            transcripts[plan.case][sample] = transcript

        jobs = [asyncio.ensure_future(answer(b, s)) for b in built for s in range(samples)]
        try:
            await asyncio.gather(*jobs)
        except (ModelError, CapReached) as exc:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)  # the answers already in are recorded; the others wait for the next run
            if isinstance(exc, CapReached):
                return "pending"
            self.store.finish(row.id, status="failed", error=str(exc))
            return "failed"
        plans = {b.case: b for b in built}
        ordered = {case: [t for t in ts if t is not None] for case, ts in transcripts.items()}
        if needs_judge(exercise):
            judge = _RecordedJudge(self, row, judge_config or replace(config, params={}), recorded)
            try:
                g = await asyncio.to_thread(grade, exercise, outputs, judge, None, transcripts=ordered, plans=plans)
            except CapReached:
                return "pending"
        else:
            g = grade(exercise, outputs, None, None, transcripts=ordered, plans=plans)
        usage = self._usage_of(row.id)
        result = outcome_dict(exercise, config.model, g, outputs, usage, None, time.monotonic() - started, transcripts=ordered)
        status = "ungraded" if g.ungraded else "graded"
        error = f"ungraded criteria: {', '.join(g.ungraded)} (the judge gave no usable answer)" if g.ungraded else None
        self.store.finish(row.id, status=status, score=g.score, passed=g.passed, result=result, error=error,
                          duration_s=time.monotonic() - started)
        return status

    def _usage_of(self, result_id: int) -> Usage:
        calls = self.store.calls(result_id).values()
        return Usage(sum(c.prompt_tokens for c in calls), sum(c.completion_tokens for c in calls), sum(c.cost_usd for c in calls))


TOOL_CALLS_MARK = "\x1etool-calls:"  # a recorded answer that called tools: the mark, then JSON {text, calls}


def recorded_text(completion: llm.Completion) -> str:
    """An answer as `cohort.db` keeps it: its text, or with calls, the mark and both as JSON (so a run that goes
    on after a stop rebuilds the same conversation)."""
    if not completion.tool_calls or completion.text.startswith(TOOL_CALLS_MARK):
        return completion.text
    return TOOL_CALLS_MARK + json.dumps({"text": completion.text, "calls": [list(c) for c in completion.tool_calls]}, ensure_ascii=False)


def from_recorded(text: str) -> tuple[str, list[ToolCall]]:
    """A recorded answer's words and calls."""
    if not text.startswith(TOOL_CALLS_MARK):
        return text, []
    data = json.loads(text[len(TOOL_CALLS_MARK):])
    return str(data.get("text") or ""), [ToolCall(str(i), str(n), str(a)) for i, n, a in data.get("calls") or []]


def plan(submissions: list[Submission], exercises: dict[str, Any], how: Pick, config: llm.CallConfig,
         judge_config: llm.CallConfig | None) -> list[dict[str, Any]]:
    """The (learner, exercise) tasks of this run, each keyed by what its grading depends on."""
    items = []
    for (learner, exercise_id), s in sorted(pick(submissions, how).items()):
        exercise = exercises[exercise_id]
        judge = (judge_config or config).model if needs_judge(exercise) else None
        # several texts make part of what is graded; a submission of one text keeps the task key it always had
        texts = (s.texts,) if s.texts else ()
        items.append({
            "learner": learner, "exercise": exercise_id, "submission": s.key, "prompt": s.prompt, "texts": s.texts,
            "exercise_hash": exercise.content_hash, "track": exercise.track, "skills": list(exercise.skills),
            "model": config.model, "judge_model": judge,
            "task": task_key(s.prompt, exercise.content_hash, config.model, config.api_base, judge, exercise.rubric.samples, *texts),
        })
    return items


def grade_cohort(
    submissions: list[Submission],
    exercises: dict[str, Any],
    *,
    store: CohortStore,
    config: llm.CallConfig,
    judge_config: llm.CallConfig | None = None,
    how: Pick = "last",
    concurrency: int = 8,
    rpm: int | None = None,
    max_cost: float | None = None,
    problems: list[InputProblem] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> CohortOutcome:
    """Grade every picked submission not graded yet. `exercises` maps ids to loaded exercises (the
    caller has named and dropped the submissions of unknown ones)."""
    started = time.monotonic()
    if max_cost is not None and max_cost < 0:
        raise LabError("--max-cost must be 0 or more (US dollars).")
    store.add_submissions(submissions)
    rows = store.prepare(plan(submissions, exercises, how, config, judge_config))
    wanted = {(s.learner, s.exercise) for s in submissions}
    current = [r for r in rows if (r.learner, r.exercise) in wanted and r.exercise in exercises]
    todo = [r for r in current if r.status != "graded"]
    run_id = store.begin_run(config.model)
    progress = Progress(total=len(current), done=len(current) - len(todo))
    calls, usage, capped = asyncio.run(_run(todo, exercises, store, config, judge_config, concurrency, rpm, max_cost, progress, on_progress))
    final = {(r.learner, r.exercise): r for r in store.results()}
    results = [final[(r.learner, r.exercise)] for r in current]
    left = [r for r in results if r.status != "graded"]
    wall = time.monotonic() - started
    store.finish_run(run_id, calls=calls, cost_usd=usage.cost_usd, graded=len(results) - len(left), left=len(left), wall_s=wall)
    mismatches = [r for r in results if _their_hash(store, r) not in (None, r.exercise_hash)]
    return CohortOutcome(results, list(problems or []), sorted({r.learner for r in results}), sorted({r.exercise for r in results}),
                         calls, usage, wall, capped, left, mismatches)


def _their_hash(store: CohortStore, row: ResultRow) -> str | None:
    found = store._db.execute("SELECT exercise_hash FROM submissions WHERE key=?", (row.submission,)).fetchone()
    return found[0] if found else None


async def _run(todo: list[ResultRow], exercises: dict[str, Any], store: CohortStore, config: llm.CallConfig,
               judge_config: llm.CallConfig | None, concurrency: int, rpm: int | None, max_cost: float | None,
               progress: Progress, on_progress: Callable[[Progress], None] | None) -> tuple[int, Usage, bool]:
    caller = llm.AsyncCaller(concurrency, rpm)
    budget = Budget(max_cost)
    grader = _Grader(store, caller, budget, progress, on_progress)
    if not llm.speaks_openai(config) or (judge_config is not None and not llm.speaks_openai(judge_config)):
        asyncio.get_running_loop().run_in_executor(None, llm.load_litellm)  # the import overlaps the first gradings' set-up
    # gradings start in order, a few more than there are call slots, so the cap stops the queue's tail, not random rows
    lanes = asyncio.Semaphore(max(1, concurrency) * 2)

    async def one(row: ResultRow) -> None:
        async with lanes:
            if budget.reached:
                return
            exercise = exercises[row.exercise]
            status = await grader.grade_one(row, exercise, config, judge_config, exercise.rubric.samples)
        if status == "graded":
            progress.done += 1
        elif status != "pending":
            progress.failed += 1
        if on_progress is not None:
            on_progress(progress)

    try:
        await asyncio.gather(*(one(r) for r in todo))
    finally:
        await caller.aclose()
    return grader.calls, grader.usage, budget.reached
