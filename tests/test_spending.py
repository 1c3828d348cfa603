"""Cost in view (issue 14): the estimate before sending, what was spent this session and today, the daily cap."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fixtures.exercise_files import load, minimal

from lab.errors import PromptError
from lab.practice.spending import (
    ANSWER_TOKENS_GUESS,
    JUDGE_ANSWER_TOKENS,
    JUDGE_PROMPT_TOKENS,
    TOKENS_PER_MESSAGE,
    check_cap,
    estimate_attempt,
    estimate_tokens,
    local_day_bounds,
    spent,
)
from lab.practice.store import Store

PRICES = {"paid/model": (1e-6, 2e-6), "paid/judge": (3e-6, 5e-6)}


def prices(model: str) -> tuple[float, float] | None:
    return PRICES.get(model)


@pytest.fixture
def three_cases(tmp_path: Path):
    return load(tmp_path, "basics/three.j2", minimal(
        id="basics/three", cases=[{"name": "a"}, {"name": "b"}, {"name": "c"}],
        rubric={"samples": 2, "criteria": [
            {"id": "hello", "check": "icontains", "value": "hello"},
            {"id": "kind", "check": "judge", "rubric": "Is it kind?", "cases": ["a", "b"]},
        ]},
    ))


def test_tokens_are_four_characters_each_rounded_up():
    assert (estimate_tokens(""), estimate_tokens("abcd"), estimate_tokens("abcde")) == (0, 1, 2)


def test_calls_are_cases_times_samples_and_judge_calls_are_per_judged_output(three_cases):
    e = estimate_attempt(three_cases, "Say hello.", model="paid/model", judge_model="paid/judge", prices=prices)
    assert (e.cases, e.samples, e.calls) == (3, 2, 6)
    assert e.judge_calls == 4  # the judge criterion grades cases a and b, two samples each
    per_call = estimate_tokens("Say hello.") + TOKENS_PER_MESSAGE  # one user message per case
    assert e.prompt_tokens == 6 * per_call
    assert e.answer_tokens == 6 * ANSWER_TOKENS_GUESS
    expected = (e.prompt_tokens * 1e-6 + e.answer_tokens * 2e-6
                + 4 * (JUDGE_PROMPT_TOKENS * 3e-6 + JUDGE_ANSWER_TOKENS * 5e-6))
    assert e.cost_usd == pytest.approx(expected)
    assert e.summary().startswith("Estimate: 6 calls (3 cases × 2 samples) · + up to 4 judge calls · ~")
    assert e.short() == f"6 calls + 4 judge · ~{e.prompt_tokens} tokens · ~${expected:.4f}"


def test_samples_given_override_the_rubric_and_no_judge_model_means_no_judge_calls(three_cases):
    e = estimate_attempt(three_cases, "Say hello.", model="paid/model", samples=5, prices=prices)
    assert (e.calls, e.judge_calls) == (15, 0)


def test_the_tokens_grow_with_the_prompt(three_cases):
    short = estimate_attempt(three_cases, "Hi.", model="paid/model", prices=prices)
    long = estimate_attempt(three_cases, "Hi. " * 100, model="paid/model", prices=prices)
    assert long.prompt_tokens > short.prompt_tokens and long.cost_usd > short.cost_usd


def test_max_tokens_bounds_the_answer(tmp_path: Path):
    exercise = load(tmp_path, "basics/short.j2", minimal(id="basics/short", model={"max_tokens": 50}))
    e = estimate_attempt(exercise, "Say hello.", model="paid/model", prices=prices)
    assert e.answer_tokens == 50


def test_a_model_without_a_price_says_so(three_cases):
    e = estimate_attempt(three_cases, "Say hello.", model="openai/echo", prices=prices)
    assert e.cost_usd is None and e.summary().endswith("price unknown for openai/echo")
    assert e.short().endswith(" · price unknown")
    # a priced model with an unpriced judge is unknown too: the judge's calls are part of the bill
    e = estimate_attempt(three_cases, "Say hello.", model="paid/model", judge_model="local/judge", prices=prices)
    assert e.cost_usd is None


def test_the_real_price_table_is_read_without_importing_litellm(three_cases):
    import subprocess
    import sys

    code = ("import sys; from lab.models.llm import price_per_token; p = price_per_token('openai/gpt-4o-mini');"
            "assert p and p[0] > 0, p; assert 'litellm' not in sys.modules; print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"


def test_without_a_model_the_calls_are_counted_and_the_price_waits(three_cases):
    e = estimate_attempt(three_cases, "Say hello.", model=None, prices=prices)
    assert (e.calls, e.cost_usd) == (6, None)
    assert e.short().endswith(" · no model yet")


def test_an_answer_calls_no_model(tmp_path: Path):
    exercise = load(tmp_path, "basics/answer.j2", minimal(id="basics/answer", writes="answer"))
    e = estimate_attempt(exercise, "hello", model="paid/model", prices=prices)
    assert (e.calls, e.judge_calls, e.cost_usd) == (0, 0, 0.0)
    assert e.summary() == "Estimate: no model call (your answer is graded as written) · ~$0.0000"


def test_an_empty_prompt_is_the_error_sending_would_give(three_cases):
    with pytest.raises(PromptError, match="empty"):
        estimate_attempt(three_cases, "  ", model="paid/model", prices=prices)


# ---------------------------------------------------------------------- spent


def record(store: Store, when: str, cost: float, status: str = "graded") -> None:
    attempt_id = store.begin_attempt(exercise_id="basics/x", exercise_hash="h", track="basics", model="paid/model",
                                     api_base=None, prompt="p")
    store.finish_attempt(attempt_id, status=status, cost_usd=cost)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE attempts SET started_at=? WHERE id=?", (when, attempt_id))


@pytest.fixture
def in_zone(monkeypatch: pytest.MonkeyPatch):
    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def test_today_is_the_local_day(in_zone):
    in_zone("America/New_York")  # UTC-5 in January
    start, end = local_day_bounds(datetime(2026, 1, 6, 3, 0, tzinfo=timezone.utc))  # 22:00 on the 5th there
    assert (start, end) == ("2026-01-05T05:00:00+00:00", "2026-01-06T05:00:00+00:00")


def test_a_daylight_saving_day_has_23_hours(in_zone):
    in_zone("Europe/Paris")
    start, end = local_day_bounds(datetime(2026, 3, 29, 12, 0, tzinfo=timezone.utc))
    assert (start, end) == ("2026-03-28T23:00:00+00:00", "2026-03-29T22:00:00+00:00")


def test_spent_today_and_this_session(in_zone):
    in_zone("UTC")
    now = datetime(2026, 1, 6, 12, 0, tzinfo=timezone.utc)
    with Store() as store:
        record(store, "2026-01-05T23:59:59+00:00", 0.5)  # yesterday
        record(store, "2026-01-06T00:00:00+00:00", 0.25)  # today, an earlier sitting
        record(store, "2026-01-06T11:00:00+00:00", 0.125)  # this sitting: 40 minutes before the next
        record(store, "2026-01-06T11:40:00+00:00", 0.0625, status="failed")  # paid tokens count whatever the status
        record(store, "2026-01-06T11:50:00+00:00", 0.03125)
        s = spent(store, now)
    assert s.today_usd == pytest.approx(0.25 + 0.125 + 0.0625 + 0.03125)
    assert s.session_usd == pytest.approx(0.0625 + 0.03125)  # 11:00 is more than 30 minutes before 11:40
    assert s.summary(2.0) == "Spent: $0.0938 this session · $0.4688 today of your $2.00 daily cap"


def test_a_sitting_ends_after_half_an_hour_without_attempts(in_zone):
    in_zone("UTC")
    with Store() as store:
        record(store, "2026-01-06T11:00:00+00:00", 0.5)
        assert spent(store, datetime(2026, 1, 6, 11, 30, tzinfo=timezone.utc)).session_usd == 0.5
        assert spent(store, datetime(2026, 1, 6, 11, 31, tzinfo=timezone.utc)).session_usd == 0.0


def test_a_day_boundary_in_the_learners_zone(in_zone):
    in_zone("Asia/Tokyo")  # UTC+9: 16:00 UTC on the 5th is 01:00 on the 6th there
    with Store() as store:
        record(store, "2026-01-05T14:59:59+00:00", 1.0)  # 23:59:59 on the 5th, Tokyo
        record(store, "2026-01-05T15:00:00+00:00", 2.0)  # midnight on the 6th, Tokyo
        assert spent(store, datetime(2026, 1, 5, 16, 0, tzinfo=timezone.utc)).today_usd == 2.0


# ---------------------------------------------------------------------- the cap


def test_no_cap_no_check():
    assert check_cap(100.0, 1.0, None) is None


def test_the_cap_is_passed_only_above_it():
    assert not check_cap(0.5, 0.5, 1.0).over  # exactly at the cap is allowed
    assert check_cap(0.5, 0.5001, 1.0).over
    assert not check_cap(0.0, None, 1.0).over


def test_an_unknown_price_is_still_asked_once_over():
    check = check_cap(1.5, None, 1.0)
    assert check.over
    assert check.message() == "You have spent $1.50 today, over your daily cap of $1.00 (max_cost, LAB_MAX_COST)"
    assert check_cap(1.5, 0.25, 1.0).message().endswith("(max_cost, LAB_MAX_COST); this attempt adds about $0.2500")


def test_the_message_names_the_estimate_and_the_setting():
    assert check_cap(0.9, 0.2, 1.0).message() == ("Today's spend of $0.9000 + about $0.2000 for this attempt would pass "
                                                 "your daily cap of $1.00 (max_cost, LAB_MAX_COST)")


def test_a_bad_cap_says_what_to_change(monkeypatch: pytest.MonkeyPatch):
    from lab.errors import LabError
    from lab.settings.config import load_settings

    monkeypatch.setenv("LAB_MAX_COST", "-1")
    with pytest.raises(LabError) as info:
        load_settings()
    assert str(info.value).startswith("Invalid setting LAB_MAX_COST='-1': input should be greater than 0 (max_cost: daily spending cap in USD")
    assert "set LAB_MAX_COST to a valid value, or unset it" in str(info.value)
    monkeypatch.setenv("LAB_MAX_COST", "2.5")
    assert load_settings().max_cost == 2.5
