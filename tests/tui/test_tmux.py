"""The real `lab` command in a real terminal (tmux): open an exercise, type, send, see the grade.

Runs against the tests' own server on 127.0.0.1 (no cassette can hold a live terminal session),
in a private tmux server so that a learner's own tmux is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.practice.store import Store

TMUX = shutil.which("tmux") or "/usr/bin/tmux"
LAB = str(Path(sys.executable).with_name("lab"))
EXERCISES = Path(__file__).resolve().parent / "exercises"

pytestmark = [pytest.mark.tmux, pytest.mark.live,
              pytest.mark.skipif(not Path(TMUX).exists(), reason="tmux is not installed")]


class Tmux:
    def __init__(self, socket: str):
        self.base = [TMUX, "-L", socket]

    def run(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], check=True, capture_output=True, text=True, timeout=10).stdout

    def screen(self, joined: bool = False) -> str:
        """The pane's text; `joined`: lines the terminal wrapped joined back (-J), for long messages."""
        return self.run("capture-pane", "-p", *(["-J"] if joined else []), "-t", "lab")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", "lab", *(["-l"] if literal else []), *keys)
        time.sleep(0.4)  # a person's pace: keys sent within microseconds can overtake a focus change

    def wait_for(self, text: str, limit: float = 30.0, joined: bool = False) -> str:
        """Poll the pane (bounded) until `text` shows; fail with what the screen showed instead."""
        deadline = time.monotonic() + limit
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(joined)
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never showed within {limit:.0f} s; the screen was:\n{screen}")


def tmux_session_ends(tmux: Tmux, limit: float = 15.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            tmux.run("has-session", "-t", "lab")
        except subprocess.CalledProcessError:
            return True  # the app quit, its session (and the private server) went with it
        time.sleep(0.2)
    return False


def test_lab_command_completes_a_graded_attempt(live_provider, lab_home, tmp_path):
    tmux = Tmux(f"lab-test-{os.getpid()}")
    env = {"LAB_HOME": str(lab_home), "LAB_MODEL": "openai/echo", "LAB_API_BASE": live_provider.url, "LAB_MAX_RETRIES": "0",
           "TERM": "xterm-256color", "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    command = " ".join(["env", "-i", *(f"{k}={v}" for k, v in env.items()), LAB, "--exercises", str(EXERCISES)])
    tmux.run("new-session", "-d", "-s", "lab", "-x", "100", "-y", "32", command)
    try:
        tmux.wait_for("enter opens the highlighted exercise")
        tmux.keys("/")
        tmux.keys("say hello", literal=True)
        tmux.keys("Enter")
        tmux.wait_for("Make it say hello")
        tmux.keys("Enter")  # open it: the editor has the focus
        tmux.wait_for("Your prompt")
        tmux.keys("Please answer with hello", literal=True)
        tmux.keys("C-j")  # send
        screen = tmux.wait_for("· PASSED", limit=40)
        assert "says-hello" in screen and "pass mark 1.00" in screen
        with Store(lab_home / "lab.db") as store:
            attempts = store.attempts("basics/greeting")
        assert [(a.status, a.passed, a.prompt) for a in attempts] == [("graded", True, "Please answer with hello")]
        tmux.keys("C-q")
        assert tmux_session_ends(tmux), "ctrl+q did not quit the lab"
        # a clean quit closes the database: no -wal or -shm files left beside it
        assert not list(lab_home.glob("lab.db-*")), list(lab_home.glob("lab.db-*"))
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True, timeout=10)


def test_lab_review_in_a_terminal_saves_each_decision_and_redraws_the_report(live_provider, lab_home, tmp_path, capsys):
    """The trainer's walk: a judged cohort graded, `lab review DIR` driven by its keys, and on quitting the
    report redrawn from cohort.db with the overrides (the levels `lab grade` recorded)."""
    from review_cohort import grade_argv

    from lab.classroom.cohort import CohortStore
    from lab.cli import main

    assert main(grade_argv(tmp_path, live_provider.url)) == 0
    capsys.readouterr()
    folder = tmp_path / "cohort"
    assert "overridden by the trainer:" not in (folder / "report.html").read_text(encoding="utf-8")
    tmux = Tmux(f"lab-review-{os.getpid()}")
    env = {"LAB_HOME": str(lab_home), "LAB_LEARNER": "tina", "TERM": "xterm-256color", "PATH": os.environ.get("PATH", ""),
           "HOME": str(tmp_path)}
    # the pane stays after `lab review` exits (remain-on-exit), so what it printed can be read
    command = " ".join(["env", "-i", *(f"{k}={v}" for k, v in env.items()), LAB, "review", str(folder)])
    tmux.run("new-session", "-d", "-s", "lab", "-x", "100", "-y", "32", command)
    try:
        tmux.run("set-option", "-t", "lab", "remain-on-exit", "on")
        tmux.wait_for("Review 1 / 12 · ana")
        tmux.keys("c")  # ana rated a: confirm
        tmux.wait_for("Review 2 / 12 · ana")
        tmux.keys("c")
        tmux.wait_for("Review 3 / 12 · bob")
        tmux.keys("5")  # bob rated a: the judge's 2 overridden to 5 of 5
        tmux.wait_for("Review 4 / 12 · bob")
        tmux.keys("q")
        screen = tmux.wait_for("is redrawn with them.", joined=True)
        # the start of the line may be lost as the terminal leaves the app's screen; its end names the report
        assert f"{folder / 'report.html'} is redrawn with them." in screen
    finally:
        subprocess.run([*tmux.base, "kill-server"], capture_output=True, timeout=10)
    with CohortStore(folder) as store:
        assert [(r.criterion, r.case, r.decision, r.trainer_score, r.reviewer) for r in store.reviews()] == [
            ("rated", "a", "confirm", None, "tina"), ("rated", "b", "confirm", None, "tina"), ("rated", "a", "override", 5.0, "tina")]
    report = (folder / "report.html").read_text(encoding="utf-8")
    # bob: meets 0, rated (1 + 0.25) / 2, hello 1 -> (0 + 2 × 0.625 + 1) / 4 = 0.5625, still not passed, but overridden
    assert 'title="bob · t/reviewed: graded; overridden by the trainer: rated">0.56 ✗ †</td>' in report
    assert "Not in the trainer's exercises" not in report  # the level came from cohort.db
