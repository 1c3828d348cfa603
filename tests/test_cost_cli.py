"""Cost in view in `lab run` (issue 14): the estimate before sending, the totals after, and the daily
cap (LAB_MAX_COST) that asks on a terminal, refuses without one unless --yes, and sends nothing when declined."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.practice.store import Store

EXERCISE = minimal(id="t/pair", title="Pair", track="t", cases=[{"name": "a", "vars": {"name": "Ana"}}, {"name": "b", "vars": {"name": "Bo"}}],
                   rubric={"samples": 2, "criteria": [{"id": "says-hello", "check": "icontains", "value": "hello"}]})
REFUSAL = ("lab: You have spent $0.2500 today, over your daily cap of $0.1000 (max_cost, LAB_MAX_COST): nothing was sent; "
           "pass --yes to send anyway, or raise LAB_MAX_COST.\n")


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_exercise(root, "t/pair.j2", EXERCISE)
    return root


@pytest.fixture
def spent_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quarter of a dollar spent a moment ago (this session, today), and a cap of a dime."""
    with Store() as store:
        attempt_id = store.begin_attempt(exercise_id="t/other", exercise_hash="h", track="t", model="openai/gpt-4o-mini",
                                         api_base=None, prompt="earlier")
        store.finish_attempt(attempt_id, status="graded", cost_usd=0.25)
    monkeypatch.setenv("LAB_MAX_COST", "0.1")


class Terminal(io.StringIO):
    """Standard input as a terminal where the learner types `answer`."""

    def isatty(self) -> bool:
        return True


def lab(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_args(course: Path, api_base: str, *extra: str) -> list[str]:
    return ["run", "t/pair", "--exercises", str(course), "--model", "openai/echo", "--api-base", api_base,
            "--prompt", "Say hello to {{ name }}.", *extra]


def prompts_sent() -> list[str]:
    with Store() as store:
        return [a.prompt for a in store.attempts() if a.exercise_id == "t/pair"]


def test_the_estimate_comes_first_and_the_totals_last(capsys, course: Path, cassette, api_base):
    with Store() as store:  # spent earlier in this sitting, on a priced model
        attempt_id = store.begin_attempt(exercise_id="t/other", exercise_hash="h", track="t", model="openai/gpt-4o-mini",
                                         api_base=None, prompt="earlier")
        store.finish_attempt(attempt_id, status="graded", cost_usd=0.0125)
    code, out, err = lab(capsys, *run_args(course, api_base))
    assert code == 0, err
    lines = out.splitlines()
    # 2 cases × 2 samples; "Say hello to Ana." (17 characters) is 5 tokens and "Say hello to Bo." 4, plus 4 a message:
    # 2 × 9 + 2 × 8
    assert lines[0] == "Estimate: 4 calls (2 cases × 2 samples) · ~34 prompt tokens · price unknown for openai/echo"
    assert lines[-1] == "Spent: $0.0125 this session · $0.0125 today"


def test_over_the_cap_without_a_terminal_refuses_and_sends_nothing(capsys, course: Path, spent_today, api_base):
    code, out, err = lab(capsys, *run_args(course, api_base))  # pytest's stdin is not a terminal
    assert (code, err) == (2, REFUSAL)
    assert out.startswith("Estimate: 4 calls")
    assert prompts_sent() == []  # not recorded: the learner never tried


def test_yes_sends_over_the_cap(capsys, course: Path, spent_today, cassette, api_base):
    code, out, err = lab(capsys, *run_args(course, api_base, "--yes"))
    assert code == 0, err
    assert prompts_sent() == ["Say hello to {{ name }}."]
    assert out.splitlines()[-1] == "Spent: $0.2500 this session · $0.2500 today of your $0.1000 daily cap"


def test_on_a_terminal_no_sends_nothing(capsys, course: Path, spent_today, api_base, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, _, err = lab(capsys, *run_args(course, api_base))
    assert code == 2
    assert err == ("You have spent $0.2500 today, over your daily cap of $0.1000 (max_cost, LAB_MAX_COST). Send anyway? [y/N] "
                   "lab: Nothing was sent.\n")
    assert prompts_sent() == []


def test_on_a_terminal_enter_alone_is_no(capsys, course: Path, spent_today, api_base, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.stdin", Terminal("\n"))
    assert lab(capsys, *run_args(course, api_base))[0] == 2
    assert prompts_sent() == []


def test_on_a_terminal_y_sends(capsys, course: Path, spent_today, cassette, api_base, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, out, err = lab(capsys, *run_args(course, api_base))
    assert code == 0, err
    assert err.endswith("Send anyway? [y/N] ")
    assert prompts_sent() == ["Say hello to {{ name }}."]


def test_under_the_cap_nothing_is_asked(capsys, course: Path, cassette, api_base, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAB_MAX_COST", "5")
    code, out, err = lab(capsys, *run_args(course, api_base))
    assert code == 0 and err == ""
    assert out.splitlines()[-1] == "Spent: $0.0000 this session · $0.0000 today of your $5.00 daily cap"


def test_a_bad_cap_is_reported_before_anything(capsys, course: Path, api_base, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAB_MAX_COST", "ten dollars")
    code, _, err = lab(capsys, *run_args(course, api_base))
    assert code == 2
    assert err.startswith("lab: Invalid setting LAB_MAX_COST='ten dollars': input should be a valid number")
    assert err.rstrip().endswith("set LAB_MAX_COST to a valid value, or unset it. Nothing was changed.")
    assert prompts_sent() == []
