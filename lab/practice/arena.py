"""One attack against one defence, graded: what a class's arenas (`lab grade`) and a learner's rehearsal
(`lab arena ID`) share.

A pair is held when the defence passes the pair's criteria (the defend exercise's rubric reduced to its
`pairing`), broken when it does not. A defence enters an arena only while it passes its own benign cases
(`benign_standing`): a defence that refuses everything keeps every secret and scores nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from graders.registry import Judge
from lab.format.arenas import ArenaSet, Pair, is_benign
from lab.format.conversation import Dialogue, Transcript
from lab.format.exercise import Exercise
from lab.models import llm
from lab.practice.attempts import Usage, call_config_for, calls_of, needs_judge, outcome_dict
from lab.practice.grading import Grade, grade
from lab.practice.spending import Estimate
from lab.settings.i18n import N_

NOT_LANDED = N_("The defence never places the attacker's text, so the attack never reached the model; "
                "a defence that keeps the attack out does not hold against it.")


@dataclass(frozen=True)
class Benign:
    """A defence on its own benign cases, as its own grading scored them."""

    score: float | None  # the weighted score of its criteria over the benign cases (None: nothing graded there)
    pass_mark: float
    failing: tuple[str, ...] = ()  # the benign cases where a criterion failed

    @property
    def passed(self) -> bool:
        return self.score is not None and self.score >= self.pass_mark - 1e-9

    def why(self) -> str:
        """Why the defence is out of the arena, in one sentence (English: the trainer's report)."""
        if self.score is None:
            return "the defence's own grading holds no result on its benign cases, so it is not attacked"
        cases = f"; failing on {', '.join(self.failing)}" if self.failing else ""
        return (f"the defence fails its own benign cases ({self.score:.2f} there, pass mark {self.pass_mark:.2f}{cases}): "
                "it scores nothing and is not attacked")


def benign_standing(result: Mapping[str, Any] | None, benign: Sequence[str], pass_mark: float) -> Benign:
    """The defence's score on its benign cases, from its stored grading (`lab run --json`'s shape, the trainer's
    overrides applied): each criterion's mean over its benign outputs (an ungraded one counting 0), weighted."""
    total = weighted = 0.0
    failing: list[str] = []
    for criterion in (result or {}).get("criteria", []):
        mine = [r for r in criterion.get("results", []) if is_benign(str(r.get("case")), benign)]
        if not mine:
            continue
        weight = float(criterion.get("weight", 1.0))
        total += weight
        weighted += weight * sum(float(r.get("score", 0.0)) for r in mine if not r.get("ungraded")) / len(mine)
        failing += [str(r["case"]) for r in mine if r.get("ungraded") or not r.get("passed")]
    score = weighted / total if total else None
    return Benign(score, pass_mark, tuple(dict.fromkeys(failing)))


def grade_pair(pair: Pair, transcripts: Sequence[Transcript], judge: Judge | None = None, lang: str | None = None) -> Grade:
    """The pair's grade: the defence's criteria over each sample's conversation."""
    outputs = {pair.case: [t.output for t in transcripts]}
    return grade(pair.exercise, outputs, judge, transcripts={pair.case: list(transcripts)}, plans={pair.case: pair.plan}, lang=lang)


def pair_result(pair: Pair, g: Grade, transcripts: Sequence[Transcript], model: str, usage: Usage, duration_s: float | None) -> dict[str, Any]:
    """A graded pair as JSON: the attempt's shape (criteria, the case's outputs and conversations) and `held`."""
    outputs = {pair.case: [t.output for t in transcripts]}
    result = outcome_dict(pair.exercise, model, g, outputs, usage, None, duration_s, transcripts={pair.case: list(transcripts)})
    for case in result["cases"]:
        case["conversations"] = [t.as_json() for t in transcripts]  # every pair keeps its exchange, chat or not
    result.update(held=g.passed, landed=True, attack=list(pair.attack) if isinstance(pair.attack, tuple) else pair.attack)
    return result


def unlanded_result(pair: Pair, model: str) -> dict[str, Any]:
    """A pair whose defence never sends the attacker's text: broken, with no call made."""
    return {"exercise": pair.exercise.id, "exercise_hash": pair.exercise.content_hash, "model": model, "passed": False, "held": False,
            "landed": False, "score": 0.0, "pass_mark": pair.exercise.rubric.pass_, "decided": True, "criteria": [], "reason": NOT_LANDED,
            "cases": [{"name": pair.case, "outputs": [], "criteria": [], "finish_reasons": [], "empty": [],
                       "conversations": [[m.as_json() for m in pair.plan.preview()]]}],
            "group_criteria": [], "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}, "duration_s": 0.0,
            "attempt_id": None}


def estimate_pair(pair: Pair, model: str, judge_model: str | None, prices: Any = None) -> Estimate:
    """What playing a pair costs, before it is sent (as `estimate_attempt` counts an attempt)."""
    from lab.practice.spending import ANSWER_TOKENS_GUESS, JUDGE_ANSWER_TOKENS, JUDGE_PROMPT_TOKENS, _case_tokens, count_judge_calls

    if prices is None:
        from lab.models.llm import price_per_token as prices  # data only: litellm is imported on a call, not here
    samples = pair.exercise.rubric.samples
    calls = pair.plan.calls * samples
    answer_each = pair.exercise.meta.model.max_tokens or ANSWER_TOKENS_GUESS
    prompt_tokens = _case_tokens(pair.plan, answer_each) * samples
    answer_tokens = answer_each * calls
    judge_calls = count_judge_calls(pair.exercise, samples) if judge_model else 0
    price = prices(model)
    cost: float | None = None if price is None else prompt_tokens * price[0] + answer_tokens * price[1]
    if judge_calls and cost is not None:
        judge_price = prices(judge_model) if judge_model else None
        cost = None if judge_price is None else cost + judge_calls * (JUDGE_PROMPT_TOKENS * judge_price[0] + JUDGE_ANSWER_TOKENS * judge_price[1])
    return Estimate(1, samples, calls, judge_calls, prompt_tokens, answer_tokens, model, judge_model if judge_calls else None, cost)


# ---------------------------------------------------------------- a learner's rehearsal


@dataclass
class Rehearsal:
    """A learner's own attack against their own defence (`lab arena ID`)."""

    arena: str
    defence: Exercise
    attack: Exercise
    pair: Pair
    result: dict[str, Any]
    usage: Usage = field(default_factory=Usage)
    duration_s: float = 0.0

    @property
    def held(self) -> bool:
        return bool(self.result.get("held"))


def choose_attack(arena: ArenaSet, latest: Mapping[str, Any]) -> Exercise | None:
    """The attack exercise whose latest attempt (`latest`: exercise id -> a record with `started_at`) is the newest."""
    tried = [a for a in arena.attacks if a.id in latest]
    return max(tried, key=lambda a: (str(latest[a.id].started_at), a.level, a.id)) if tried else None


@dataclass
class Spend:
    """What a rehearsal has cost so far, kept by the caller: a rehearsal stopped part-way (a model error, a
    cancel) has still been paid for, and the day's spending must count it."""

    usage: Usage = field(default_factory=Usage)


def rehearse(arena: str, defence: Exercise, attack: Exercise, pair: Pair, *, config: llm.CallConfig,
             judge_config: llm.CallConfig | None = None, cancel: Any = None, spend: Spend | None = None) -> Rehearsal:
    """Play the pair (`meet`) once per sample of the defence's rubric on the learner's model, and grade it
    (ModelError from the model). A defence that never places the attack is broken with no call. `spend`
    holds the cost as it grows, whether the rehearsal ends or not."""
    from dataclasses import replace

    from lab.practice.judging import ModelJudge

    started = time.monotonic()
    spend = spend if spend is not None else Spend()
    if not pair.landed:
        return Rehearsal(arena, defence, attack, pair, unlanded_result(pair, config.model))
    call_config = call_config_for(defence, config)
    transcripts = []
    for sample in range(defence.rubric.samples):
        dialogue = Dialogue(pair.plan)
        while (messages := dialogue.next_call()) is not None:
            # each sample cached apart, as an attempt's are: at temperature 0 sample 2 would be sample 1's answer again
            completion = llm.complete(messages, call_config, cancel=cancel, tools=pair.plan.tools, cache_slot=sample)
            spend.usage = spend.usage + Usage(completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
            dialogue.answer(completion.text, completion.finish_reason == "length", calls_of(completion))
        transcripts.append(dialogue.transcript())
    judge = ModelJudge(judge_config or replace(config, params={}), cancel=cancel) if needs_judge(pair.exercise) else None
    before_judge = spend.usage
    try:
        g = grade_pair(pair, transcripts, judge)
    finally:
        if judge is not None:
            spend.usage = before_judge + Usage(judge.usage.prompt_tokens, judge.usage.completion_tokens, judge.usage.cost_usd)
    usage = spend.usage
    duration = time.monotonic() - started
    return Rehearsal(arena, defence, attack, pair, pair_result(pair, g, transcripts, config.model, usage, duration), usage, duration)
