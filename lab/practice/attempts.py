"""Running an attempt: render the messages, record the attempt, call the model per case and sample,
grade, record the result. The CLI and the TUI both call `run_attempt`; neither talks to litellm.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from lab.errors import CancelledError, LabError, ModelError, PromptError
from lab.format.conversation import CasePlan, Dialogue, Message, Transcript
from lab.format.exercise import Exercise
from lab.format.messages import build_messages, learner_texts, main_of
from lab.format.tools import ToolCall
from lab.models import llm, local
from lab.practice.grading import GROUP_CASE, Grade, grade, grade_to_dict
from lab.practice.judging import ModelJudge
from lab.practice.store import Store
from lab.settings.i18n import ENGLISH, translator

DeltaHandler = Callable[[str, int, str], None]  # (case, sample, text)
TurnHandler = Callable[[str, int, int], None]  # (case, sample, turn): a learner-written message is about to be sent
ToolHandler = Callable[[str, int, Message], None]  # (case, sample, message): the model's calls, then each tool's answer


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
    finish_reasons: dict[str, list[str | None]] = field(default_factory=dict)
    transcripts: dict[str, list[Transcript]] = field(default_factory=dict)
    calls: int = 0  # model calls the attempt asked for (the judge's included)
    cached_calls: int = 0  # of them, answered from the response cache

    @property
    def cached(self) -> bool:
        return bool(self.calls) and self.cached_calls == self.calls

    def to_dict(self) -> dict[str, Any]:
        return outcome_dict(self.exercise, self.model, self.grade, self.outputs, self.usage, self.attempt_id, self.duration_s,
                            self.finish_reasons, self.transcripts, calls=self.calls, cached_calls=self.cached_calls)


def outcome_dict(exercise: Exercise, model: str, g: Grade, outputs: dict[str, list[str]], usage: Usage,
                 attempt_id: int | None, duration_s: float | None,
                 finish_reasons: dict[str, list[str | None]] | None = None,
                 transcripts: dict[str, list[Transcript]] | None = None, *, calls: int = 0,
                 cached_calls: int = 0) -> dict[str, Any]:
    """The JSON shape of `lab run --json` (also what the store keeps as the attempt's result).

    `cases[i].finish_reasons` runs parallel to `outputs`: "length" there means the answer was cut off
    at max_tokens, which a learner must be told before puzzling over a criterion it had no room for.
    An exercise that shapes the conversation (`Exercise.chat`) also keeps `cases[i].conversations`,
    one list of messages per output (lab/format/conversation.py). `cached` is true when every call of the
    attempt was answered from the response cache (no call was made, nothing was charged); `cached_calls`
    counts them when only some were."""
    finish_reasons = finish_reasons or {}
    transcripts = transcripts or {}
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
        case_outputs = outputs.get(case.name, [])
        reasons = list(finish_reasons.get(case.name, []))
        said = transcripts.get(case.name) or []
        # an answer that continued a prefill is empty when the model added nothing to it
        empty = [is_empty(said[i].continuation if i < len(said) else o) for i, o in enumerate(case_outputs)]
        entry = {"name": case.name, "outputs": case_outputs, "criteria": per_case,
                 "finish_reasons": (reasons + [None] * len(case_outputs))[: len(case_outputs)], "empty": empty}
        if exercise.chat and said:
            entry["conversations"] = [t.as_json() for t in said]
        cases.append(entry)
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
        "cached": bool(calls) and cached_calls == calls,
        "cached_calls": cached_calls,
    }


ANSWER_MODEL = "none (your answer)"  # what an attempt at a `writes: answer` exercise records as its model


def cut_off_notice(result: dict[str, Any], max_tokens: int | None, tr: Any = None) -> str | None:
    """One sentence naming the cases whose answer stopped at the token limit, or None when none did.
    `tr` is the exercise's language (a gettext translator); English without."""
    t = tr if tr is not None else ENGLISH
    which = _cases_where(result, lambda case, i: _reason(case, i) == "length", t)
    if which is None:
        return None
    if max_tokens:
        setting = t.gettext("max_tokens: {max_tokens}, set by the exercise").format(max_tokens=max_tokens)
    else:
        setting = t.gettext("the model's own token limit (the exercise sets no max_tokens)")
    return t.gettext("The answer was cut off for {which}: the model stopped at {setting}. "
                     "A criterion it fails may only lack room; ask for a shorter answer.").format(which=which, setting=setting)


def _cases_where(result: dict[str, Any], marked: Callable[[dict[str, Any], int], bool], t: Any) -> str | None:
    """"case 'a'" or "cases 'a' (sample 2), 'b'": every case with an answer `marked(case, sample)` picks (its
    samples named when it has several), for a notice; None when no answer is picked."""
    named = []
    for case in result.get("cases", []):
        count = max(len(case.get("outputs") or []), len(case.get("finish_reasons") or []))
        samples = [i for i in range(count) if marked(case, i)]
        if samples:
            which = t.gettext(" (sample {samples})").format(samples=", ".join(str(i + 1) for i in samples))
            named.append(f"'{case['name']}'" + (which if count > 1 else ""))
    if not named:
        return None
    return t.ngettext("case {cases}", "cases {cases}", len(named)).format(cases=", ".join(named))


def _reason(case: dict[str, Any], sample: int) -> str | None:
    reasons = case.get("finish_reasons") or []
    return reasons[sample] if sample < len(reasons) else None


def _empty(case: dict[str, Any], sample: int) -> bool:
    outputs = case.get("outputs") or []
    marks = case.get("empty") or [is_empty(o) for o in outputs]
    return sample < len(marks) and bool(marks[sample])


def is_empty(output: str) -> bool:
    """An answer with no text at all (`""`, or white space): graded as it is, and named wherever it is read."""
    return not output.strip()


def empty_notice(result: dict[str, Any], tr: Any = None) -> str | None:
    """One sentence naming the cases whose answer was empty, or None when none was."""
    t = tr if tr is not None else ENGLISH
    # an answer cut off while the model still called tools is named by `rounds_notice`
    which = _cases_where(result, lambda case, i: _empty(case, i) and _reason(case, i) != ROUNDS_SPENT, t)
    if which is None:
        return None
    return t.gettext("The model's answer was empty for {which}: it wrote nothing, and the criteria graded that. "
                     "Send again; if it stays empty, try another model.").format(which=which)


def output_note(case: dict[str, Any], sample: int, tr: Any = None) -> str | None:
    """What a learner must know about one answer before reading it: empty, or cut off at the token limit."""
    t = tr if tr is not None else ENGLISH
    if _reason(case, sample) == ROUNDS_SPENT:
        return t.gettext("cut off: still calling tools when the rounds ran out")
    if _empty(case, sample):
        return t.gettext("empty: the model wrote nothing")
    if _reason(case, sample) == "length":
        return t.gettext("cut off at the token limit")
    return None


def call_config_for(exercise: Exercise, base: llm.CallConfig) -> llm.CallConfig:
    """The learner's model and endpoint with the exercise's call settings (temperature, max_tokens...)."""
    return replace(base, params={**exercise.meta.model.as_kwargs(), **base.params})


def tools_notice(exercise: Exercise, model: str, tr: Any = None) -> str | None:
    """One sentence when an exercise with tools is sent to a model litellm lists as unable to call them (it may
    answer without calling any); None otherwise, and for a model litellm does not list (a local server's), of which
    nothing can be said. Asks litellm, so call it where the model is about to be called."""
    if not exercise.tools or llm.supports_tools(model) is not False:
        return None
    t = tr if tr is not None else ENGLISH
    if local.is_builtin(model):
        return t.gettext("The built-in model does not call tools, so it will answer without calling any and fail the criteria "
                         "on its calls; choose a model that can call functions.")
    return t.gettext("litellm lists {model} as unable to call tools, so it may answer without calling any and fail the "
                     "criteria on its calls; choose a model that can call functions.").format(model=model)


def rounds_notice(result: dict[str, Any], rounds: int, tr: Any = None) -> str | None:
    """One sentence naming the cases whose model was still calling tools when the exercise's rounds ran out."""
    t = tr if tr is not None else ENGLISH
    which = _cases_where(result, lambda case, i: _reason(case, i) == ROUNDS_SPENT, t)
    if which is None:
        return None
    return t.ngettext("The answer was cut off for {which}: the model was still calling tools after {rounds} round "
                      "(model.tool_rounds, set by the exercise), so its answer is what it said last. Ask it to answer "
                      "once it has what it needs.",
                      "The answer was cut off for {which}: the model was still calling tools after {rounds} rounds "
                      "(model.tool_rounds, set by the exercise), so its answer is what it said last. Ask it to answer "
                      "once it has what it needs.", rounds).format(which=which, rounds=rounds)


ROUNDS_SPENT = "tool_rounds"  # a case's finish reason when its model was still calling tools as the rounds ran out


def prefill_notice(exercise: Exercise, plans: list[CasePlan], model: str, tr: Any = None) -> str | None:
    """One sentence when an attempt sends a prefill to a model litellm does not list as continuing one
    (it may answer afresh); None otherwise. Asks litellm, so call it where the model is about to be called."""
    if not any(p.prefill for p in plans) or llm.supports_prefill(model):
        return None
    t = tr if tr is not None else ENGLISH
    return t.gettext("litellm does not list {model} as continuing a prefill (the start of the answer written for it), "
                     "so it may answer afresh instead; the answer is still read as the prefill followed by what it writes.").format(model=model)


def stored_texts(exercise: Exercise, texts: dict[str, Any]) -> dict[str, Any] | None:
    """What an attempt keeps beside its `prompt`: every text by name, when the learner writes more than one
    prompt, system prompt or answer (a prefill, turns, or several texts)."""
    return None if exercise.texts in (("prompt",), ("system",), ("answer",)) else dict(texts)


def run_attempt(
    exercise: Exercise,
    text: str | Mapping[str, Any],
    *,
    config: llm.CallConfig | None,
    store: Store,
    samples: int | None = None,
    hints_used: int = 0,
    concurrency: int = 4,
    judge_config: llm.CallConfig | None = None,
    on_delta: DeltaHandler | None = None,
    on_output: Callable[[str, int, str], None] | None = None,
    on_started: Callable[[int], None] | None = None,
    on_turn: TurnHandler | None = None,
    on_tool: ToolHandler | None = None,
    on_notice: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> AttemptOutcome:
    """Run one graded attempt. Raises PromptError before anything is recorded when the text is
    unusable; ModelError or CancelledError after recording the attempt as failed or cancelled.

    `text` is the learner's text, or their texts by name when the exercise has them write several
    (`{"system": ..., "prompt": ...}`; `turns` a list of messages). Each case's conversation is walked
    call by call (lab/format/conversation.py): a learner-written conversation sends one message per call
    (`on_turn` says which before it goes), `on_delta` streams each answer's words after any prefill, `on_tool`
    hears, in order, each message of the model that called tools and each tool's answer (lab/format/tools.py), and
    `on_notice` hears the one sentence of `prefill_notice` or `tools_notice` before the first request goes out
    (not for an attempt answered from the response cache: the notices ask litellm's model map, seconds to load).

    For `writes: answer` no model is called: the learner's text, rendered per case, is each case's
    output (one sample), and `config` may be None; a judge is asked only by judge criteria."""
    texts = learner_texts(exercise, text)  # PromptError: the learner's text stays where it is
    built = build_messages(exercise, texts)
    answering = exercise.writes == "answer"
    if config is None and not answering:
        raise PromptError("No model is chosen for this exercise: pass --model (or set LAB_MODEL).")
    n_samples = 1 if answering else (samples or exercise.rubric.samples)
    model = ANSWER_MODEL if answering else config.model
    attempt_id = store.begin_attempt(
        exercise_id=exercise.id, exercise_hash=exercise.content_hash, track=exercise.track, model=model,
        api_base=None if answering else config.api_base, prompt=main_of(texts, exercise.texts), samples=n_samples,
        hints_used=hints_used, texts=stored_texts(exercise, texts),
    )
    if on_started is not None:
        on_started(attempt_id)
    started = time.monotonic()
    cancel = cancel or threading.Event()
    exercise_config = None if answering else call_config_for(exercise, config)  # the same for every call
    outputs: dict[str, list[str | None]] = {b.case: [None] * n_samples for b in built}
    finish_reasons: dict[str, list[str | None]] = {b.case: [None] * n_samples for b in built}
    transcripts: dict[str, list[Transcript | None]] = {b.case: [None] * n_samples for b in built}
    usage = Usage()
    lock = threading.Lock()
    calls = {"made": 0, "cached": 0}
    told = threading.Lock()  # held while the notices are found: every case's first request waits for them
    notices: list[str] | None = None

    def tell_notices() -> None:
        nonlocal notices
        with told:
            if notices is None and on_notice is not None:
                assert config is not None
                notices = [n for n in (prefill_notice(exercise, built, config.model, translator(exercise.lang)),
                                       tools_notice(exercise, config.model, translator(exercise.lang))) if n]
                for notice in notices:
                    on_notice(notice)

    def one_case(plan: CasePlan, sample: int) -> None:
        nonlocal usage
        assert config is not None
        case = plan.case
        handler = (lambda delta: on_delta(case, sample, delta)) if on_delta else None
        dialogue = Dialogue(plan)
        reason = None
        announced = -1
        while (messages := dialogue.next_call()) is not None:
            if on_turn is not None and plan.learner_turns and dialogue.turn != announced:
                announced = dialogue.turn  # once per message, not again for each round of tool calls it causes
                on_turn(case, sample, dialogue.turn)
            # a conversation's calls differ by their messages: the sample alone tells apart the answers to one request
            completion = llm.complete(messages, exercise_config, on_delta=handler, cancel=cancel, tools=plan.tools, cache_slot=sample,
                                      before_send=tell_notices)
            before = len(dialogue.messages)
            said = dialogue.answer(completion.text, completion.finish_reason == "length", calls_of(completion))
            if on_tool is not None and said.calls:
                for message in dialogue.messages[before:]:
                    on_tool(case, sample, message)
            finish = ROUNDS_SPENT if said.calls and said.cut_off and completion.finish_reason != "length" else completion.finish_reason
            reason = reason if reason in ("length", ROUNDS_SPENT) else finish
            with lock:
                calls["made"] += 1
                calls["cached"] += completion.cached
                usage = usage + Usage(completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
        transcript = dialogue.transcript()
        with lock:
            outputs[case][sample] = transcript.output
            finish_reasons[case][sample] = reason
            transcripts[case][sample] = transcript
        if on_output:
            on_output(case, sample, transcript.output)

    judge: ModelJudge | None = None
    judged = False  # the judge's usage is in `usage`
    try:
        if answering:
            for b in built:
                outputs[b.case][0] = b.attempt
                if on_output:
                    on_output(b.case, 0, b.attempt)
        else:
            _call_every_case(built, n_samples, concurrency, one_case, cancel)
        complete_outputs = {case: [o or "" for o in outs] for case, outs in outputs.items()}
        complete_transcripts = {case: [t for t in ts if t is not None] for case, ts in transcripts.items() if all(ts)}
        judge_base = judge_config or (replace(config, params={}) if config is not None else None)
        judge = ModelJudge(judge_base, cancel=cancel) if judge_base is not None and needs_judge(exercise) else None
        g = grade(exercise, complete_outputs, judge=judge, transcripts=complete_transcripts, plans={b.case: b for b in built})
        if judge is not None:
            usage, judged = usage + Usage(judge.usage.prompt_tokens, judge.usage.completion_tokens, judge.usage.cost_usd), True
    except BaseException as exc:
        if judge is not None and not judged:  # stopped while judging: what the judge was paid still counts
            usage = usage + Usage(judge.usage.prompt_tokens, judge.usage.completion_tokens, judge.usage.cost_usd)
        status = "cancelled" if isinstance(exc, (CancelledError, KeyboardInterrupt)) else "failed"
        if not_sent(exc, outputs, usage):
            status = "not_sent"
        if isinstance(exc, KeyboardInterrupt):
            message = str(CancelledError())
        else:
            message = str(exc) if isinstance(exc, LabError) else f"internal error: {type(exc).__name__}: {exc}"
        partial = {case: [o for o in outs if o is not None] for case, outs in outputs.items()}
        store.finish_attempt(
            attempt_id, status=status, error=message, result={"cases": [{"name": c, "outputs": o} for c, o in partial.items()]},
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, cost_usd=usage.cost_usd,
            duration_s=time.monotonic() - started - llm.load_overlap(started),
        )
        if isinstance(exc, ModelError | CancelledError):
            raise
        if isinstance(exc, KeyboardInterrupt):
            raise CancelledError() from exc
        raise
    # the model library's one-off import is not the model's time (`llm.load_seconds()` says it apart)
    duration = time.monotonic() - started - llm.load_overlap(started)
    if judge is not None:
        calls["made"] += judge.calls
        calls["cached"] += judge.cached_calls
    outcome = AttemptOutcome(attempt_id, exercise, model, g, complete_outputs, usage, duration,
                             finish_reasons=finish_reasons, transcripts=complete_transcripts, calls=calls["made"],
                             cached_calls=calls["cached"])
    store.finish_attempt(
        attempt_id, status="graded", score=g.score, passed=g.passed, result=outcome.to_dict(),
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, cost_usd=usage.cost_usd, duration_s=duration,
    )
    return outcome


def calls_of(completion: llm.Completion) -> list[ToolCall]:
    """The model's calls of one completion as the conversation keeps them."""
    return [ToolCall(id, name, arguments) for id, name, arguments in completion.tool_calls]


def not_sent(exc: BaseException, outputs: dict[str, list[str | None]], usage: Usage) -> bool:
    """True when no call of the attempt reached a model: it failed before sending, and no other call
    (of another case or sample) got an answer or used a token meanwhile."""
    if not isinstance(exc, ModelError) or exc.sent:
        return False
    answered = any(o is not None for outs in outputs.values() for o in outs)
    return not answered and usage.prompt_tokens == 0 and usage.completion_tokens == 0


def _call_every_case(built: list[CasePlan], n_samples: int, concurrency: int,
                     one_case: Callable[[CasePlan, int], None], cancel: threading.Event) -> None:
    """Every case's conversations, `concurrency` at a time (a conversation's own calls one after the
    other); the first failure cancels the rest and is raised."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="lab-call") as pool:
        try:
            # the submissions inside the guard too: a Ctrl-C between two of them must cancel the first
            futures = [pool.submit(one_case, b, s) for b in built for s in range(n_samples)]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:
            cancel.set()  # Ctrl-C: queued calls must not start while the pool waits for those in flight
            raise
        failure = next((f.exception() for f in done if f.exception() is not None), None)
        if failure is not None:
            cancel.set()  # stop the other calls: the attempt has failed already
            wait(pending)
            raise failure


def needs_judge(exercise: Exercise, *, only_required: bool = False) -> bool:
    """Whether a criterion asks a judge model (with `only_required`: one that cannot grade without it)."""
    from graders import get_check

    kinds = ("always",) if only_required else ("always", "optional")
    return any(get_check(c.check).uses_model in kinds for c in exercise.rubric.criteria)
