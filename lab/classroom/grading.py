"""Grading a cohort: each learner's picked prompt is run again on the trainer's model and graded with
the exercise's rubric (samples and judges included), everything recorded in `DIR/cohort.db`.

A run goes in three steps, each a stream through cohort.db so that memory stays flat whatever the
class size: `take_in` writes the submissions as they are read; `plan` picks one per learner and
exercise (`pick_one`, a group at a time, in the database's order) and prepares its result; `grade_cohort`
feeds the results still to grade, a batch at a time, to a fixed number of lanes in one event loop
(`lab.models.llm.AsyncCaller`). Before a batch's calls are made its results are claimed for the run,
so two runs never pay for one call twice.

Every answer is committed before anything else is done with it and a grading reads back what is
recorded, so a run killed at any moment resumes without a second call for recorded work. `max_cost`
is a budget: a call starts only while the spent cost, the estimates of the calls in flight and its own
estimate stay under the cap; the first call refused stops new work, and what is left stays pending
for the next run.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable, Iterable, Iterator, NamedTuple, Sequence

from lab.classroom.cohort import CohortStore, RunInfo, Writer
from lab.classroom.likeness import fingerprint
from lab.classroom.records import RecordedCall, ResultRow, task_key
from lab.classroom.submissions import InputProblem, Pick, Submission, iter_submissions, pick_one
from lab.errors import CancelledError, LabError, ModelError, PromptError
from lab.format.conversation import CasePlan, Dialogue, Transcript
from lab.format.messages import build_messages
from lab.format.tools import ToolCall
from lab.models import llm
from lab.practice.attempts import Usage, call_config_for, needs_judge, outcome_dict
from lab.practice.grading import grade
from lab.practice.judging import judge_params

DEFAULT_COMPLETION_TOKENS = 256  # a call's answer length before any is seen, when the exercise sets no max_tokens
HEARTBEAT_S = 10.0  # how often a run says it is alive (its claims hold while it does: cohort.ALIVE_S)


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


@dataclass(frozen=True)
class Intake:
    """What a run read: submissions kept, problems named (each recorded in cohort.db with the run)."""

    submissions: int
    problems: int


@dataclass
class CohortOutcome:
    """A run's figures; its results are read from the store (`CohortStore.iter_results(current=True)`)."""

    run: int
    total: int  # (learner, exercise) pairs this run was given
    graded: int
    calls: int  # model calls this run made
    run_usage: Usage
    wall_s: float
    capped: bool
    held: int = 0  # results another live run had claimed: left to it
    holders: list[RunInfo] = field(default_factory=list)

    @property
    def left(self) -> int:
        return self.total - self.graded


# ---------------------------------------------------------------- reading and planning


def take_in(store: CohortStore, run: int, targets: Sequence[str], on_problem: Callable[[InputProblem], None] | None = None) -> Intake:
    """Read the submission files into cohort.db as a stream; every problem is recorded for the run and
    passed to `on_problem` as it is found."""
    counts = {"submissions": 0, "problems": 0}
    problems: list[InputProblem] = []

    def submissions() -> Iterator[Submission]:
        for item in iter_submissions(targets):
            if isinstance(item, Submission):
                counts["submissions"] += 1
                yield item
                continue
            counts["problems"] += 1
            problems.append(item)
            if on_problem is not None:
                on_problem(item)
            if len(problems) >= 100:
                store.add_problems(run, problems)
                problems.clear()

    store.add_submissions(submissions())
    store.add_problems(run, problems)
    return Intake(counts["submissions"], counts["problems"])


class _Candidate(NamedTuple):
    learner: str
    exercise: str
    key: str
    prompt: str
    created: str | None
    status: str | None
    score: float | None
    order: int
    texts: str | None  # as cohort.db keeps them (JSON)


def _picked(rows: Iterable[tuple[Any, ...]], how: Pick) -> Iterator[_Candidate]:
    """One candidate per (learner, exercise) from rows ordered by them: the rule is `pick_one`'s."""
    group: list[tuple[int, _Candidate]] = []
    for row in rows:
        candidate = _Candidate(*row)
        if group and (group[0][1].learner, group[0][1].exercise) != (candidate.learner, candidate.exercise):
            yield pick_one(group, how)
            group = []
        group.append((candidate.order, candidate))
    if group:
        yield pick_one(group, how)


def plan(store: CohortStore, exercises: dict[str, Any], how: Pick, config: llm.CallConfig,
         judge_config: llm.CallConfig | None) -> None:
    """This run's (learner, exercise) tasks, each keyed by what its grading depends on, prepared in the
    store (a task that changed starts afresh)."""

    judged = {exercise_id: needs_judge(exercise) for exercise_id, exercise in exercises.items()}  # once an exercise, not a row

    def items() -> Iterator[dict[str, Any]]:
        for s in _picked(store.candidates(sorted(exercises)), how):
            exercise = exercises[s.exercise]
            judge = (judge_config or config).model if judged[s.exercise] else None
            texts = json.loads(s.texts) if s.texts else None
            # several texts make part of what is graded; a submission of one text keeps the task key it always had
            extra = (texts,) if texts else ()
            yield {
                "learner": s.learner, "exercise": s.exercise, "submission": s.key, "prompt": s.prompt, "texts": texts,
                "exercise_hash": exercise.content_hash, "track": exercise.track, "skills": list(exercise.skills),
                "model": config.model, "judge_model": judge,
                "task": task_key(s.prompt, exercise.content_hash, config.model, config.api_base, judge, exercise.rubric.samples, *extra),
            }

    store.prepare(items())


# ---------------------------------------------------------------- the cost cap


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

    async def complete(self, caller: llm.AsyncCaller, messages: list[dict[str, Any]], config: llm.CallConfig,
                       tools: list[dict[str, Any]] | None = None, cache_slot: int | str = 0) -> llm.Completion:
        """One call within the cap: its estimate held from just before it is sent (CapReached: nothing is
        sent) until its real cost is known."""
        estimate = self.estimate(messages, config) if self.cap is not None else 0.0  # no cap: nothing to hold it against
        held = 0.0

        def reserve() -> None:
            nonlocal held
            self.reserve(estimate)
            held = estimate

        completion = None
        try:
            completion = await caller.complete(messages, config, before_send=reserve, tools=tools, cache_slot=cache_slot)
        finally:
            self.settle(held, completion, config.model)
        return completion


def _key(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([messages, params], ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:20]


# ---------------------------------------------------------------- one grading


JudgeCall = Callable[[str, list[dict[str, str]], llm.CallConfig], Awaitable[str]]


class RecordedJudge:
    """The judge of one grading (a submission's, or an arena pair's): `ask_call(call, messages, config)` gives
    the answer recorded for `call` earlier or asks it through the run's event loop and commits it at once.
    Checks call the judge from the grading thread, so each question is handed to `loop`."""

    def __init__(self, config: llm.CallConfig, ask_call: JudgeCall, loop: asyncio.AbstractEventLoop):
        self.config, self.ask_call, self.loop = config, ask_call, loop
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
        return asyncio.run_coroutine_threadsafe(self.ask_call(call, messages, config), self.loop).result()


@dataclass(frozen=True)
class _Exercise:
    """What every grading of one exercise shares, worked out once per run."""

    exercise: Any
    config: llm.CallConfig  # the trainer's model with the exercise's call settings
    judged: bool
    samples: int


class _Grading:
    """One result being graded: the calls it needs (read back from cohort.db when recorded, else made and
    committed at once) and what they cost.

    The answer that completes a grading without a judge is not committed on its own: it goes into
    cohort.db in the same transaction as the grade, computed right after it arrives with nothing awaited
    in between (`held`); should anything stop the grading first, it is committed alone (`keep_held`)."""

    def __init__(self, grader: "_Grader", row: ResultRow, recorded: dict[str, RecordedCall]):
        self.grader, self.row, self.recorded = grader, row, recorded
        self.usage = [0, 0, 0.0]
        self.held: list[tuple[str, str, llm.Completion]] = []
        for call in recorded.values():
            self._count(call)

    def _count(self, call: Any) -> None:
        self.usage[0] += call.prompt_tokens
        self.usage[1] += call.completion_tokens
        self.usage[2] += call.cost_usd

    async def call(self, call: str, kind: str, messages: list[dict[str, Any]], config: llm.CallConfig,
                   hold: Callable[[], bool] | None = None, tools: list[dict[str, Any]] | None = None) -> RecordedCall | llm.Completion:
        """The answer to one call, recorded earlier or asked now (its words and its calls to tools); `hold()`, asked
        once it has arrived, says whether it waits for the grade's transaction."""
        found = self.recorded.get(call)
        if found is not None:
            return found
        completion = await self.grader.call(self.row.id, call, kind, messages, config, tools)
        if hold is not None and hold():
            self.held.append((call, kind, completion))
        else:  # committed before the answer is used
            await self.grader.write([CohortStore.call_statement(self.row.id, call, kind, completion)])
        self._count(completion)
        # the calls waiting for slots go out before this answer is graded: answers come in waves, and grading each
        # before the next request left the wave's last slots idle for its whole length. The first yield puts this
        # grading behind the call its slot woke; the second puts the wave's gradings behind every call the wave woke
        # (with one, they alternated: the wave's last call waited for all but one grading). The server's window fell
        # from 1.02-1.06x the bare client's to 0.99-1.00x (bench/README.md). Yielded once the answer is held or
        # written, so a stop in between cannot lose a paid answer.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return completion

    def keep_held(self) -> None:
        """Commit the answers not committed yet (a grading stopped before its grade was written)."""
        for call, kind, completion in self.held:
            self.grader.store.record_call(self.row.id, call, kind, completion)
        self.held = []

    async def answers(self, built: list[CasePlan], plan: _Exercise) -> tuple[dict[str, list[str]], dict[str, list[Transcript]]]:
        """Every case's conversation with the model, per sample: the calls a submission needs (`answer:CASE:SAMPLE`,
        and `:TURN` after it when the learner writes turns), a case's calls one after the other."""
        outputs: dict[str, list[str]] = {b.case: [""] * plan.samples for b in built}
        transcripts: dict[str, list[Transcript | None]] = {b.case: [None] * plan.samples for b in built}
        # one call in all (the common case): its answer waits for the grade's own transaction, and it is awaited
        # as it is (no task to schedule)
        single = len(built) == 1 and plan.samples == 1 and built[0].calls == 1 and not built[0].tools

        def hold() -> bool:
            return not plan.judged

        async def answer(case: CasePlan, sample: int) -> None:
            dialogue = Dialogue(case)  # each message the learner wrote goes after the answer before it
            while (messages := dialogue.next_call()) is not None:
                key = f"answer:{case.case}:{sample}" + (f":{dialogue.turn}" if case.learner_turns else "") \
                    + (f":r{dialogue.rounds}" if dialogue.rounds else "")  # each round of tool calls is a call of its own
                said = await self.call(key, "answer", messages, plan.config, hold if single else None, case.tools)
                dialogue.answer(said.text, calls=[ToolCall(*c) for c in said.tool_calls])
            transcript = dialogue.transcript()
            outputs[case.case][sample] = transcript.output
            transcripts[case.case][sample] = transcript

        if single:
            await answer(built[0], 0)
        else:
            tasks = [asyncio.ensure_future(answer(b, sample)) for b in built for sample in range(plan.samples)]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)  # the answers already in are recorded; the others wait for the next run
                raise
        return outputs, {case: [t for t in ts if t is not None] for case, ts in transcripts.items()}


class _Grader:
    def __init__(self, store: CohortStore, caller: llm.AsyncCaller, budget: Budget, progress: Progress, writer: Writer):
        self.store, self.caller, self.budget, self.progress, self.writer = store, caller, budget, progress, writer
        self.loop = asyncio.get_running_loop()
        self.calls = 0
        self.usage = Usage()

    async def write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Commit, on the writer's thread; returns once the write is in cohort.db."""
        await asyncio.wrap_future(self.writer.submit(statements))

    async def call(self, result_id: int, call: str, kind: str, messages: list[dict[str, Any]], config: llm.CallConfig,
                   tools: list[dict[str, Any]] | None = None) -> llm.Completion:
        """One model call within the budget; the caller commits the answer (`_Grading.call`)."""
        # with `lab grade --cache`, each answer's call (its case, sample, message and round) is cached apart
        completion = await self.budget.complete(self.caller, messages, config, tools, cache_slot=call if kind == "answer" else 0)
        made = 0 if completion.cached else 1  # an answer from the response cache is no call
        self.calls += made
        self.usage = self.usage + Usage(completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
        self.progress.calls += made
        self.progress.cost_usd += completion.cost_usd
        return completion

    async def grade_one(self, row: ResultRow, plan: _Exercise, config: llm.CallConfig, judge_config: llm.CallConfig | None,
                        recorded: dict[str, RecordedCall]) -> str:
        started = time.monotonic()
        exercise = plan.exercise
        try:
            built = build_messages(exercise, row.learner_texts)
        except PromptError as exc:
            await self.write(CohortStore.finish_statements(row.id, status="failed", error=f"the prompt cannot be used: {exc}", usage=(0, 0, 0.0)))
            return "failed"
        grading = _Grading(self, row, recorded)
        try:
            try:
                outputs, transcripts = await grading.answers(built, plan)
            except CapReached:
                return "pending"
            except ModelError as exc:
                await self.write(CohortStore.finish_statements(row.id, status="failed", error=str(exc), usage=tuple(grading.usage)))  # type: ignore[arg-type]
                return "failed"
            plans = {b.case: b for b in built}
            if plan.judged:
                async def ask(call: str, messages: list[dict[str, str]], cfg: llm.CallConfig) -> str:
                    return (await grading.call(call, "judge", messages, cfg)).text

                judge = RecordedJudge(judge_config or replace(config, params={}), ask, self.loop)
                try:
                    g = await asyncio.to_thread(grade, exercise, outputs, judge, None, transcripts=transcripts, plans=plans)
                except CapReached:
                    return "pending"
            else:
                g = grade(exercise, outputs, None, None, transcripts=transcripts, plans=plans)
            usage = Usage(int(grading.usage[0]), int(grading.usage[1]), float(grading.usage[2]))
            result = outcome_dict(exercise, config.model, g, outputs, usage, None, time.monotonic() - started, transcripts=transcripts)
            status = "ungraded" if g.ungraded else "graded"
            error = f"ungraded criteria: {', '.join(g.ungraded)} (the judge gave no usable answer)" if g.ungraded else None
            statements = CohortStore.finish_statements(
                row.id, status=status, score=g.score, passed=g.passed, result=result, error=error, duration_s=time.monotonic() - started,
                usage=(usage.prompt_tokens, usage.completion_tokens, usage.cost_usd), calls=grading.held)
            # worked out now, while the calls of the wave are out, not in the report after the last answer
            statements.append(CohortStore.fingerprint_statement(row.submission, fingerprint(row.all_text)))
            await asyncio.wrap_future(self.writer.submit(statements))
            grading.held = []  # committed with the grade (until then, a stop commits them alone: `keep_held`)
            return status
        finally:
            grading.keep_held()


# ---------------------------------------------------------------- the run


def grade_cohort(
    store: CohortStore,
    exercises: dict[str, Any],
    *,
    run: int,
    config: llm.CallConfig,
    judge_config: llm.CallConfig | None = None,
    how: Pick = "last",
    concurrency: int = 8,
    rpm: int | None = None,
    max_cost: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> CohortOutcome:
    """Grade every picked submission of this run (`take_in`) not graded yet. `exercises` maps ids to loaded
    exercises (the caller has named and dropped the submissions of unknown ones: `CohortStore.skip_exercise`)."""
    started = time.monotonic()
    if max_cost is not None and max_cost < 0:
        raise LabError("--max-cost must be 0 or more (US dollars).")
    plan(store, exercises, how, config, judge_config)
    total, done = store.plan_counts()
    progress = Progress(total=total, done=done)
    outcome = asyncio.run(_run(store, run, exercises, config, judge_config, concurrency, rpm, max_cost, progress, on_progress))
    total, graded = store.plan_counts()
    outcome.total, outcome.graded, outcome.wall_s = total, graded, time.monotonic() - started
    store.finish_run(run, calls=outcome.calls, cost_usd=outcome.run_usage.cost_usd, graded=graded, left=total - graded, wall_s=outcome.wall_s)
    return outcome


async def _run(store: CohortStore, run: int, exercises: dict[str, Any], config: llm.CallConfig,
               judge_config: llm.CallConfig | None, concurrency: int, rpm: int | None, max_cost: float | None,
               progress: Progress, on_progress: Callable[[Progress], None] | None) -> CohortOutcome:
    caller = llm.AsyncCaller(concurrency, rpm)
    budget = Budget(max_cost)
    writer = store.writer()
    grader = _Grader(store, caller, budget, progress, writer)
    plans = {x: _Exercise(e, call_config_for(e, config), needs_judge(e), e.rubric.samples) for x, e in exercises.items()}
    if llm.async_calls_need_litellm(config) or (judge_config is not None and llm.async_calls_need_litellm(judge_config)):
        asyncio.get_running_loop().run_in_executor(None, llm.load_litellm)  # the import overlaps the first gradings' set-up
    # gradings start in order, a few more than there are call slots (so a slot never waits for a grading
    # to be set up), and the cap stops the queue's tail, not random rows; only these are held in memory
    lanes = max(1, concurrency) * 2
    queue: asyncio.Queue[tuple[ResultRow, dict[str, RecordedCall]] | None] = asyncio.Queue(maxsize=lanes)
    holders: dict[int, RunInfo] = {}
    held = 0

    async def feed() -> None:
        nonlocal held
        after = 0
        while not budget.reached:
            batch = store.pending(after, max(lanes, 64))
            if not batch:
                break
            after = batch[-1][0]
            mine, others = store.claim(run, [row.id for _, row in batch])  # before any of their calls is made
            holders.update((r.id, r) for r in others)
            recorded = store.calls_of(sorted(mine))  # what an earlier run already paid for, read back
            for _, row in batch:
                if row.id not in mine:
                    held += 1
                    continue
                await queue.put((row, recorded.get(row.id, {})))
                if budget.reached:
                    break
        for _ in range(lanes):
            await queue.put(None)

    async def work() -> None:
        while (item := await queue.get()) is not None:
            if budget.reached:
                continue  # left pending for the next run
            row, recorded = item
            status = await grader.grade_one(row, plans[row.exercise], config, judge_config, recorded)
            if status == "graded":
                progress.done += 1
            elif status != "pending":
                progress.failed += 1
            if on_progress is not None:
                on_progress(progress)

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            store.heartbeat(run)

    beating = asyncio.create_task(heartbeat())
    # what was loaded so far (modules, exercises) lives until the end: the collector stops walking it, and
    # runs less often (a run's garbage is a few short-lived objects a grading; the walk was a tenth of its CPU)
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 20_000), *threshold[1:])
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(feed())
            for _ in range(lanes):
                group.create_task(work())
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
        beating.cancel()
        await caller.aclose()
        await asyncio.to_thread(writer.close)  # every write submitted is in before the run's figures are read
    return CohortOutcome(run, 0, 0, grader.calls, grader.usage, 0.0, budget.reached, held, list(holders.values()))
