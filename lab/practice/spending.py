"""What attempts cost: an estimate before sending, what was spent this session and today, and the
daily cap (`max_cost`, `LAB_MAX_COST`).

Plain Python over the store and the rendered messages: no litellm import. Prices come from
`lab.models.llm.price_per_token`, which reads litellm's price table as data (the one place that knows it);
a model without a price (a local server, an unlisted name) has an estimate of calls and tokens
and "price unknown" in place of dollars.
"""

from __future__ import annotations

import gettext
import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping

from lab.format.exercise import Exercise
from lab.format.messages import build_messages
from lab.settings.i18n import ENGLISH

if TYPE_CHECKING:
    from lab.practice.store import Store

# A rough, documented heuristic (docs/config.md): about four characters a token in English and
# French, plus a few tokens of chat framing per message. Close enough to budget by, cheap enough to
# run on every keystroke, and it needs no tokenizer (tiktoken and friends cost an import).
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
# The answer's length is unknown before it exists: counted at the exercise's max_tokens when it sets
# one (an upper bound), else at this guess of a typical short answer.
ANSWER_TOKENS_GUESS = 300
# A judge reads the criterion, the answer and its instructions, and writes a short verdict.
JUDGE_PROMPT_TOKENS = 700
JUDGE_ANSWER_TOKENS = 150
# A session is a sitting: attempts with no gap longer than this between them, up to now.
SESSION_GAP = timedelta(minutes=30)

PriceLookup = Callable[[str], "tuple[float, float] | None"]


def estimate_tokens(text: str) -> int:
    """Tokens in `text` by the CHARS_PER_TOKEN heuristic (0 for empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


@dataclass(frozen=True)
class Estimate:
    """What sending an attempt would cost, before it is sent."""

    cases: int
    samples: int
    calls: int  # the learner's model: cases × samples (0 for an answer, which no model writes)
    judge_calls: int  # judge criteria: one per judged output (one per criterion for a group check)
    prompt_tokens: int  # sent to the learner's model, over every call
    answer_tokens: int  # expected back, over every call (max_tokens or the guess)
    model: str | None
    judge_model: str | None
    cost_usd: float | None  # None: a model involved has no known price
    tool_calls: int = 0  # with tools: the calls the model may add by calling them (a round each), not in `calls` nor the cost

    def summary(self, tr: gettext.NullTranslations = ENGLISH) -> str:
        """One line: calls, tokens, dollars (or "price unknown"), in the exercise's language."""
        if self.calls:
            calls = tr.ngettext("{calls} call", "{calls} calls", self.calls).format(calls=self.calls) + " (" + \
                tr.ngettext("{n} case", "{n} cases", self.cases).format(n=self.cases) + " × " + \
                tr.ngettext("{n} sample", "{n} samples", self.samples).format(n=self.samples) + ")"
        else:
            calls = tr.gettext("no model call (your answer is graded as written)")
        parts = [calls]
        if self.tool_calls:
            parts.append(tr.ngettext("+ up to {n} call for tool rounds", "+ up to {n} calls for tool rounds", self.tool_calls).format(
                n=self.tool_calls))
        if self.judge_calls:
            parts.append(tr.ngettext("+ up to {n} judge call", "+ up to {n} judge calls", self.judge_calls).format(n=self.judge_calls))
        if self.calls:
            parts.append(tr.gettext("~{tokens} prompt tokens").format(tokens=f"{self.prompt_tokens:,}"))
        parts.append(f"~{usd(self.cost_usd)}" if self.cost_usd is not None
                     else tr.gettext("price unknown for {model}").format(model=self._unpriced(tr)))
        return tr.gettext("Estimate: {parts}").format(parts=" · ".join(parts))

    def short(self, tr: gettext.NullTranslations = ENGLISH) -> str:
        """The summary in a few words, for a narrow column: "6 calls + 4 judge · ~120 tokens · ~$0.0012"."""
        parts = [tr.ngettext("{calls} call", "{calls} calls", self.calls).format(calls=self.calls) if self.calls
                 else tr.gettext("no model call")]
        if self.judge_calls:
            parts[0] += " " + tr.gettext("+ {n} judge").format(n=self.judge_calls)
        if self.calls:
            parts.append(tr.gettext("~{tokens} tokens").format(tokens=f"{self.prompt_tokens:,}"))
        parts.append(f"~{usd(self.cost_usd)}" if self.cost_usd is not None
                     else (tr.gettext("price unknown") if self.model else tr.gettext("no model yet")))
        return " · ".join(parts)

    def _unpriced(self, tr: gettext.NullTranslations) -> str:
        return self.model or self.judge_model or tr.gettext("the model (none chosen yet)")


def usd(amount: float) -> str:
    """Dollars as the lab prints them: four decimals below a dollar (a call costs fractions of a cent)."""
    return f"${amount:.4f}" if amount < 1 else f"${amount:.2f}"


def estimate_attempt(exercise: Exercise, text: str | Mapping[str, Any], *, model: str | None, samples: int | None = None,
                     judge_model: str | None = None, prices: PriceLookup | None = None, case: str | None = None) -> Estimate:
    """The calls, tokens and price of sending `text` (PromptError when the text cannot be rendered,
    as sending would). `model` None or an answer exercise: no learner call; `judge_model` None: no judge.
    `case`: of trying that one case once (`lab try`), not of a whole attempt."""
    if prices is None:
        from lab.models.llm import price_per_token as prices  # data only: lab.models.llm imports litellm on first call, not here
    built = build_messages(exercise, text)
    if case is not None:
        built = [b for b in built if b.case == case]
        samples = 1
    answering = exercise.writes == "answer"
    n_samples = 1 if answering else (samples or exercise.rubric.samples)
    calls = 0 if answering else sum(b.calls for b in built) * n_samples  # counted before a model is chosen too
    answer_each = exercise.meta.model.max_tokens or ANSWER_TOKENS_GUESS
    per_case = [_case_tokens(b, answer_each) for b in built]
    prompt_tokens = sum(per_case) * n_samples if calls else 0
    answer_tokens = answer_each * calls
    judge_calls = count_judge_calls(exercise, n_samples, case) if judge_model else 0

    cost: float | None = 0.0
    if calls:
        price = prices(model) if model else None  # no model yet: no price yet
        cost = None if price is None else prompt_tokens * price[0] + answer_tokens * price[1]
    if judge_calls and cost is not None:
        price = prices(judge_model) if judge_model else None
        cost = None if price is None else cost + judge_calls * (JUDGE_PROMPT_TOKENS * price[0] + JUDGE_ANSWER_TOKENS * price[1])
    tool_calls = calls * exercise.tool_rounds if exercise.tools and not answering else 0  # each round is one more call
    return Estimate(len(built), n_samples, calls, judge_calls, prompt_tokens, answer_tokens,
                    None if answering else model, judge_model if judge_calls else None, cost, tool_calls)


def _case_tokens(plan: Any, answer_each: int) -> int:
    """The prompt tokens of a case's calls: each call of a conversation the learner writes sends
    everything before it again, the earlier answers included."""
    opening = sum(estimate_tokens(m["content"]) + TOKENS_PER_MESSAGE for m in plan.messages)
    if not plan.learner_turns:
        return opening
    total, sent = 0, opening - estimate_tokens(plan.turns[0]) - TOKENS_PER_MESSAGE
    for index, turn in enumerate(plan.turns):
        sent += estimate_tokens(turn) + TOKENS_PER_MESSAGE + (answer_each + TOKENS_PER_MESSAGE if index else 0)
        total += sent
    return total


def count_judge_calls(exercise: Exercise, samples: int, only_case: str | None = None) -> int:
    """Judge calls if every criterion that can ask a model does: one per output it grades, one per
    criterion for a group check (a retry after an unusable verdict is not counted). `only_case`: for
    one case tried alone, where a group check is not asked."""
    from graders import get_check

    total = 0
    for criterion in exercise.rubric.criteria:
        check = get_check(criterion.check)
        if check.uses_model == "never":
            continue
        if check.scope == "group":
            total += 0 if only_case is not None else 1
        else:
            total += samples * sum(1 for case in exercise.cases
                                   if criterion.applies_to(case.name) and only_case in (None, case.name))
    return total


# ---------------------------------------------------------------------- spent


@dataclass(frozen=True)
class Spent:
    session_usd: float
    today_usd: float

    def summary(self, cap: float | None = None, tr: gettext.NullTranslations = ENGLISH) -> str:
        if cap is None:
            return tr.gettext("Spent: {session} this session · {today} today").format(session=usd(self.session_usd), today=usd(self.today_usd))
        return tr.gettext("Spent: {session} this session · {today} today of your {cap} daily cap").format(
            session=usd(self.session_usd), today=usd(self.today_usd), cap=usd(cap))

    def line(self, cap: float | None = None, tr: gettext.NullTranslations = ENGLISH) -> str:
        """The same in a few words, for the exercise screen's narrow column."""
        text = tr.gettext("Spent {session} session · {today} today").format(session=usd(self.session_usd), today=usd(self.today_usd))
        return text + (" · " + tr.gettext("cap {cap}").format(cap=usd(cap)) if cap else "")


def local_day_bounds(at: datetime) -> tuple[str, str]:
    """The learner's local day holding `at`, as UTC ISO strings comparable with the store's times."""
    day = at.astimezone().date()
    # naive midnights read as local time: the offset in force at each (a DST day is 23 or 25 hours)
    start = datetime.combine(day, time(0)).astimezone()
    end = datetime.combine(day + timedelta(days=1), time(0)).astimezone()
    return _iso(start), _iso(end)


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="seconds")


def spent(store: "Store", at: datetime | None = None) -> Spent:
    """Dollars recorded by attempts started today (local day) and in this session (the current sitting:
    back from `at` while attempts are less than SESSION_GAP apart). Every status counts: a failed or
    cancelled attempt was paid for the tokens it used."""
    at = at or datetime.now(timezone.utc)
    start, end = local_day_bounds(at)
    today = store.cost_between(start, end)
    since = _iso(at - timedelta(days=1))  # a sitting longer than a day is still cut at one
    session = 0.0
    edge = at
    for started_at, cost in store.costs_since(since):  # newest first
        when = datetime.fromisoformat(started_at)
        if edge - when > SESSION_GAP:
            break
        session += cost
        edge = when
    return Spent(session, today)


# ---------------------------------------------------------------------- the cap


@dataclass(frozen=True)
class CapCheck:
    cap: float
    today_usd: float
    estimate_usd: float | None

    @property
    def over(self) -> bool:
        return self.today_usd + (self.estimate_usd or 0.0) > self.cap

    def message(self, tr: gettext.NullTranslations = ENGLISH) -> str:
        """What would pass the cap, as a clause the CLI and the TUI finish with what to do."""
        if self.today_usd > self.cap:
            said = tr.gettext("You have spent {today} today, over your daily cap of {cap} (max_cost, LAB_MAX_COST)").format(
                today=usd(self.today_usd), cap=usd(self.cap))
            return said + (tr.gettext("; this attempt adds about {cost}").format(cost=usd(self.estimate_usd)) if self.estimate_usd else "")
        return tr.gettext("Today's spend of {today} + about {cost} for this attempt would pass your daily cap of {cap} "
                          "(max_cost, LAB_MAX_COST)").format(today=usd(self.today_usd), cost=usd(self.estimate_usd or 0.0), cap=usd(self.cap))


def check_cap(today_usd: float, estimate_usd: float | None, cap: float | None) -> CapCheck | None:
    """The cap's verdict on sending, or None when no cap is set. An unknown price counts as nothing,
    so a learner already over the cap is still asked."""
    if cap is None:
        return None
    return CapCheck(cap, today_usd, estimate_usd)
