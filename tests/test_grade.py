"""`lab grade`: export -> grade -> report, the resume, the cost cap, rate limits, and each bad input."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.practice.store import Store

LAB = Path(sys.executable).with_name("lab")
GREET = minimal(
    id="t/greet", title="Say hello", track="basics", level=1, skills=["clarity", "brevity"], vars={"name": "Ana"},
    cases=[{"name": "only"}],
    rubric={"pass": 1.0, "criteria": [
        {"id": "says-hello", "check": "icontains", "value": "hello", "feedback": "Greet them."},
        {"id": "short", "check": "max-words", "value": 6},
    ]},
)
TWO = minimal(
    id="t/two", title="Two cases", track="basics", level=2, skills=["clarity"], model={"max_tokens": 20},
    cases=[{"name": "a", "vars": {"who": "Ana"}}, {"name": "b", "vars": {"who": "Bob"}}],
    rubric={"pass": 1.0, "criteria": [{"id": "names-them", "check": "icontains", "value": "{{ who }}"}]},
)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_exercise(root, "basics/greet.j2", GREET)
    write_exercise(root, "basics/two.j2", TWO)
    return root


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")


def lab(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def sub(learner: str, exercise: str, prompt: str, **extra) -> str:
    data = {"format": "prompt-lab-submission/1", "learner": learner, "exercise": exercise, "prompt": prompt, **extra}
    return json.dumps(data)


def write(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def grade_args(course: Path, api_base: str, out: Path, *paths: Path | str, model: str = "openai/echo") -> list[str]:
    return ["grade", *map(str, paths), "--out", str(out), "--exercises", str(course), "--model", model, "--api-base", api_base]


def sent(cassette, recording: bool) -> int:
    """Requests that went out: recorded ones while recording, played ones in replay."""
    return len(cassette.requests) if recording else cassette.play_count


def db_rows(out: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(out / "cohort.db") as db:
        return db.execute(sql).fetchall()


def test_export_grade_report_round_trip(capsys, course: Path, tmp_path: Path, cassette, api_base: str):
    # a learner's practice, exported by `lab export`, plus a trainer's CSV
    with Store() as store:
        for prompt, score in (("Say hello to {{ name }} in a long sentence with many words.", 1.0), ("Hello {{ name }}!", 0.5)):
            a = store.begin_attempt(exercise_id="t/greet", exercise_hash="old-version", track="basics", model="openai/x",
                                    api_base=None, prompt=prompt)
            store.finish_attempt(a, status="graded", score=score, passed=score == 1.0, result={"cases": []})
    hand_in = tmp_path / "in" / "ana.jsonl"
    hand_in.parent.mkdir()
    assert lab(capsys, "export", "--learner", "ana", "-o", str(hand_in))[0] == 0
    (tmp_path / "in" / "class.csv").write_text(
        "learner,exercise,prompt\nbob,t/greet,Tell a long story about {{ name }} and nothing else\nbob,t/two,Say hi to {{ who }}\n", encoding="utf-8")
    out = tmp_path / "cohort"
    code, stdout, err = lab(capsys, *grade_args(course, api_base, out, tmp_path / "in"), "--json")
    assert code == 0, err
    data = json.loads(stdout)
    assert set(data) >= {"learners", "exercises", "results", "usage"}
    assert data["learners"] == ["ana", "bob"] and data["exercises"] == ["t/greet", "t/two"]
    by = {(r["learner"], r["exercise"]): r for r in data["results"]}
    assert set(by) == {("ana", "t/greet"), ("bob", "t/greet"), ("bob", "t/two")}
    for r in data["results"]:
        assert set(r) >= {"learner", "exercise", "score", "passed", "status", "criteria"}
        assert r["status"] == "graded"
        assert all(set(c) == {"id", "score", "passed", "ungraded"} for c in r["criteria"])
    # `last` is the newest attempt: the echo model repeats it, so it has hello and is short
    assert by[("ana", "t/greet")]["passed"] is True and by[("ana", "t/greet")]["version_mismatch"] is True
    assert by[("bob", "t/greet")]["criteria"] == [{"id": "says-hello", "score": 0.0, "passed": False, "ungraded": False},
                                                  {"id": "short", "score": pytest.approx(0.6667, abs=0.001), "passed": False, "ungraded": False}]
    assert by[("bob", "t/two")]["passed"] is True
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens", "cost_usd"} and data["usage"]["completion_tokens"] > 0
    assert data["run"]["calls"] == 4  # 1 + 1 + two cases
    assert db_rows(out, "SELECT COUNT(*) FROM calls") == [(4,)]
    assert db_rows(out, "SELECT COUNT(*) FROM submissions") == [(4,)]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<td>ana</td><td>t/greet</td><td><code>old-version</code>" in report  # the version mismatch is listed
    assert "Greet them." in report  # the feedback of the criterion the class failed
    # the same command again: nothing left, no model call (the cassette would refuse a second play)
    code, stdout, err = lab(capsys, *grade_args(course, api_base, out, tmp_path / "in"), "--json")
    assert code == 0 and json.loads(stdout)["run"]["calls"] == 0
    assert db_rows(out, "SELECT COUNT(*) FROM results") == [(3,)] and db_rows(out, "SELECT COUNT(*) FROM calls") == [(4,)]


def test_pick_best_grades_the_learners_highest_scored_attempt(capsys, course: Path, tmp_path: Path, cassette, api_base: str):
    f = write(tmp_path / "a.jsonl",
              sub("ana", "t/greet", "Hello {{ name }}!", score=1.0, created="2026-01-01T10:00:00+00:00", status="graded"),
              sub("ana", "t/greet", "Goodbye.", score=0.2, created="2026-01-02T10:00:00+00:00", status="graded"))
    code, stdout, err = lab(capsys, *grade_args(course, api_base, tmp_path / "c", f), "--pick", "best", "--json")
    assert code == 0, err
    assert json.loads(stdout)["results"][0]["passed"] is True


def test_bad_input_is_named_with_its_line_skipped_and_exits_2(capsys, course: Path, tmp_path: Path, cassette, api_base: str):
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello!"), "{broken", sub("", "t/greet", "Hi"), sub("cleo", "t/gret", "Hi"))
    code, stdout, err = lab(capsys, *grade_args(course, api_base, tmp_path / "c", f, tmp_path / "missing.csv"))
    assert code == 2
    assert f"lab: {f}:2: not valid JSON (Expecting property name enclosed in double quotes at column 2); each line must be one JSON object (skipped)" in err
    assert f"lab: {f}:3: the learner has no name; set `learner` (the learner exports with --learner NAME) (skipped)" in err
    assert (f"lab: {f}:4: unknown exercise 't/gret': not in the trainer's exercises; add its folder with --exercises DIR "
            "(Did you mean t/greet?) (skipped)") in err
    assert f"lab: {tmp_path / 'missing.csv'}: no such file or folder; check the path (skipped)" in err
    assert "1 of 1 graded" in stdout  # ana's line was graded all the same


def test_nothing_usable_to_grade(capsys, course: Path, tmp_path: Path):
    f = write(tmp_path / "a.jsonl", "{broken")
    code, _, err = lab(capsys, *grade_args(course, "http://127.0.0.1:9/v1", tmp_path / "c", f))
    assert code == 2 and err.endswith("lab: Nothing to grade: no usable submission was found (each problem is named above).\n")


def test_grade_needs_a_model(capsys, course: Path, tmp_path: Path):
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello!"))
    code, _, err = lab(capsys, "grade", str(f), "--out", str(tmp_path / "c"), "--exercises", str(course))
    assert code == 2 and err.startswith("lab: No model chosen: pass --model")


@pytest.mark.parametrize("flag, value, message", [
    ("--concurrency", "0", "--concurrency must be at least 1."),
    ("--rpm", "0", "--rpm must be at least 1."),
    ("--max-cost", "-1", "--max-cost must be 0 or more (US dollars)."),
])
def test_bad_limits(capsys, course: Path, tmp_path: Path, flag: str, value: str, message: str):
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello!"))
    code, _, err = lab(capsys, *grade_args(course, "http://127.0.0.1:9/v1", tmp_path / "c", f), flag, value)
    assert code == 2 and err == f"lab: {message}\n"


def test_an_unusable_cohort_folder(capsys, course: Path, tmp_path: Path):
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello!"))
    (tmp_path / "file").write_text("x", encoding="utf-8")
    code, _, err = lab(capsys, *grade_args(course, "http://127.0.0.1:9/v1", tmp_path / "file" / "c", f))
    assert code == 2 and err == f"lab: Cannot create the cohort folder {tmp_path / 'file' / 'c'}: Not a directory; choose another --out.\n"


def test_a_model_error_is_named_and_exits_1(capsys, course: Path, tmp_path: Path, cassette, api_base: str, no_retries):
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello!"))
    code, stdout, err = lab(capsys, *grade_args(course, api_base, tmp_path / "c", f, model="openai/unauthorized"))
    assert code == 1
    assert f"  ana · t/greet: {api_base} refused the API key for openai/unauthorized (401); check the key in your environment." in err
    assert "0 of 1 graded" in stdout


def test_a_429_is_retried_and_graded(capsys, course: Path, tmp_path: Path, cassette, api_base: str, recording: bool):
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello!"), sub("bob", "t/greet", "Hello there!"))
    code, stdout, err = lab(capsys, *grade_args(course, api_base, tmp_path / "c", f, model="openai/flaky-429"), "--json")
    assert code == 0, err
    assert [r["status"] for r in json.loads(stdout)["results"]] == ["graded", "graded"]
    assert sent(cassette, recording) == 4  # a 429 then the answer, for each


def test_the_cost_cap_stops_before_crossing_and_says_what_is_left(capsys, course: Path, tmp_path: Path, cassette, api_base: str,
                                                                 recording: bool):
    # gpt-4o-mini's price comes from litellm's table; the fake provider answers for any model name
    lines = [sub(f"l{i}", "t/two", f"Say hi to {{{{ who }}}} number {i}") for i in range(5)]
    f = write(tmp_path / "a.jsonl", *lines)
    out = tmp_path / "c"
    # a call is estimated at (chars/3 + 4) input tokens + 20 output tokens (max_tokens), $0.0000138, and costs $0.0000045
    code, stdout, err = lab(capsys, *grade_args(course, api_base, out, f, model="openai/gpt-4o-mini"), "--max-cost", "0.00003", "--concurrency", "1")
    assert code == 1, (stdout, err)
    data_rows = db_rows(out, "SELECT status, COUNT(*) FROM results GROUP BY status")
    graded = dict(data_rows).get("graded", 0)
    assert graded == 2  # serial calls: each starts while spent + its estimate stays under the cap
    assert f"{5 - graded} submission(s) left to grade; run the same command with a higher --max-cost to go on." in err
    assert "Stopped before the next call would pass --max-cost $3e-05" in err
    spent = db_rows(out, "SELECT SUM(cost_usd) FROM calls")[0][0]
    assert 0 < spent <= 0.00003
    # going on with a higher cap grades the rest without asking again for what was answered
    recorded = db_rows(out, "SELECT COUNT(*) FROM calls")[0][0]
    requests_before = sent(cassette, recording)
    assert requests_before == recorded
    code, stdout, err = lab(capsys, *grade_args(course, api_base, out, f, model="openai/gpt-4o-mini"), "--max-cost", "1", "--json")
    assert code == 0, err
    assert sent(cassette, recording) - requests_before == 10 - recorded
    assert db_rows(out, "SELECT COUNT(*) FROM calls") == [(10,)]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere():
    from lab.classroom.grading import Progress
    from lab.cli.trainer import ProgressLine

    p = Progress(total=4, done=2, cost_usd=0.0123)
    p.started -= 2.0
    tty = Terminal()
    ProgressLine(tty)(p)
    assert tty.getvalue().startswith("\r\033[K[████████████░░░░░░░░░░░░] 2/4 graded · 1.0/s · $0.0123 · 2 s left")
    plain = io.StringIO()
    ProgressLine(plain)(p, final=True)
    assert plain.getvalue() == "2/4 graded · 1.0/s · $0.0123 · 2 s left\n"


@pytest.mark.live
def test_kill_9_mid_run_resumes_without_a_second_call_or_a_doubled_row(tmp_path: Path, live_provider, course: Path):
    # the server answers 8 requests and holds the rest until the test lets them go: the run is caught in
    # mid-grading whatever the machine's speed (a timed answer let a loaded machine finish or not start)
    live_provider.hold_after = 8
    live_provider.gate.clear()
    f = write(tmp_path / "a.jsonl", *[sub(f"l{i:02d}", "t/two", f"Say hi to {{{{ who }}}} ({i})") for i in range(12)])
    out = tmp_path / "c"
    argv = [str(LAB), *grade_args(course, live_provider.url, out, f, model="openai/echo"), "--concurrency", "2"]
    env = {**os.environ, "LAB_MAX_RETRIES": "0", "LAB_TIMEOUT": "600"}
    run = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and run.poll() is None:
            if len(live_provider.requests) > 8 and (out / "cohort.db").exists():  # held: nothing more can be recorded
                try:
                    if db_rows(out, "SELECT COUNT(*) FROM calls")[0][0] == 8:
                        break
                except sqlite3.OperationalError:
                    pass
            time.sleep(0.05)
        assert run.poll() is None, "lab grade ended before it could be killed"
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
    finally:
        live_provider.gate.set()
    recorded = db_rows(out, "SELECT COUNT(*) FROM calls")[0][0]
    assert recorded == 8
    sent_before = len(live_provider.requests)
    done = subprocess.run(argv + ["--json"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(live_provider.requests) - sent_before == 24 - recorded  # nothing recorded was asked again
    assert db_rows(out, "SELECT COUNT(*), COUNT(DISTINCT result_id || call) FROM calls") == [(24, 24)]
    assert db_rows(out, "SELECT COUNT(*), SUM(status = 'graded') FROM results") == [(12, 12)]
    assert [r["status"] for r in json.loads(done.stdout)["results"]] == ["graded"] * 12


JUDGED = minimal(
    id="t/judged", title="Judged", track="basics", level=2, skills=["judgement"],
    cases=[{"name": "only"}],
    rubric={"pass": 1.0, "samples": 2, "criteria": [
        {"id": "meets", "check": "judge", "rubric": "The text meets the rubric.", "scale": "pass-fail", "feedback": "Make it meet the rubric."},
        {"id": "says-hello", "check": "icontains", "value": "hello"},
    ]},
)


def test_samples_and_judges_are_graded_and_their_answers_recorded(capsys, tmp_path: Path, cassette, api_base: str, recording: bool):
    root = tmp_path / "course"
    write_exercise(root, "basics/judged.j2", JUDGED)
    # the fake judge (judge-strict) gives the top grade only to outputs holding MEETS-RUBRIC
    f = write(tmp_path / "a.jsonl", sub("ana", "t/judged", "hello MEETS-RUBRIC"), sub("bob", "t/judged", "hello there"))
    out = tmp_path / "c"
    argv = [*grade_args(root, api_base, out, f), "--judge-model", "openai/judge-strict", "--json"]
    code, stdout, err = lab(capsys, *argv)
    assert code == 0, err
    by = {r["learner"]: r for r in json.loads(stdout)["results"]}
    assert by["ana"]["passed"] is True and by["bob"]["passed"] is False
    assert by["bob"]["criteria"][0] == {"id": "meets", "score": 0.0, "passed": False, "ungraded": False}
    # two samples each, and the judge asked about each sample's output
    assert db_rows(out, "SELECT kind, COUNT(*) FROM calls GROUP BY kind ORDER BY kind") == [("answer", 4), ("judge", 4)]
    result = json.loads(db_rows(out, "SELECT result FROM results WHERE learner='bob'")[0][0])
    assert [len(c["outputs"]) for c in result["cases"]] == [2]
    # the same command again: answers and verdicts are read back, nothing is asked again
    before = sent(cassette, recording)
    assert before == 8
    code, stdout, err = lab(capsys, *argv)
    assert code == 0 and json.loads(stdout)["run"]["calls"] == 0 and sent(cassette, recording) == before


def test_a_broken_exercise_is_named_and_its_submissions_skipped(capsys, course: Path, tmp_path: Path, cassette, api_base: str):
    write_exercise(course, "basics/broken.j2", minimal(id="t/broken", rubric={"criteria": [{"id": "x", "check": "no-such-check"}]}))
    f = write(tmp_path / "a.jsonl", sub("ana", "t/broken", "Hi"), sub("ana", "t/greet", "Hello!"))
    code, stdout, err = lab(capsys, *grade_args(course, api_base, tmp_path / "c", f))
    assert code == 2
    assert (f"lab: {f}:1: exercise 't/broken' cannot be loaded; `lab validate` lists its problems, fix them and grade again (skipped)") in err
    assert "1 of 1 graded" in stdout


def test_a_cohort_database_that_is_not_one(tmp_path: Path):
    from lab.classroom.cohort import CohortStore
    from lab.errors import LabError

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "cohort.db").write_text("not a database at all, just text" * 100, encoding="utf-8")
    with pytest.raises(LabError) as caught:
        CohortStore(tmp_path / "c")
    assert str(caught.value) == (f"{tmp_path / 'c' / 'cohort.db'}: the cohort database cannot be opened (file is not a database); "
                                 "move it aside or choose another --out.")


def test_a_cohort_database_of_a_newer_prompt_lab(tmp_path: Path):
    from lab.classroom.cohort import SCHEMA_VERSION, CohortStore
    from lab.errors import LabError

    CohortStore(tmp_path / "c").close()
    with sqlite3.connect(tmp_path / "c" / "cohort.db") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(LabError) as caught:
        CohortStore(tmp_path / "c")
    assert str(caught.value) == (f"{tmp_path / 'c' / 'cohort.db'} was written by a newer Prompt Lab (cohort schema 99, this one knows {SCHEMA_VERSION}); "
                                 "upgrade Prompt Lab.")


async def test_rpm_spaces_request_starts_evenly(monkeypatch):
    from lab.models import llm

    slept: list[float] = []
    clock = [100.0]

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))

    monkeypatch.setattr(llm.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr("asyncio.sleep", fake_sleep)
    pacer = llm._Pacer(120)  # one start every 0.5 s
    for _ in range(3):
        await pacer.wait()
    assert slept == [0.5, 1.0]  # the first goes at once, the others wait their turn
    assert llm._Pacer(None).interval == 0.0


def test_a_wave_of_answers_frees_every_slot_before_the_wave_is_graded(capsys, course: Path, tmp_path: Path, monkeypatch):
    """Answers come in waves (a slot's worth at once): the calls waiting for the freed slots go out before
    any answer of the wave is recorded and graded, or the wave's last slot idles for the wave's grading."""
    import asyncio

    import lab.classroom.grading as grading
    from lab.models import llm

    events: list[str] = []
    wave: list[asyncio.Future[str]] = []

    async def answer_in_waves(self, messages, config, tools=None):
        prompt = messages[-1]["content"]
        events.append(f"send {prompt}")
        wave.append(asyncio.get_running_loop().create_future())
        mine = wave[-1]
        if len(wave) == 2:  # both slots' calls are out: answer them at once
            answered, wave[:] = list(wave), []
            asyncio.get_running_loop().call_soon(lambda: [f.set_result("hello") for f in answered])
        return await mine, 1, 1, 0.0, "stop", ()

    real_grade = grading.grade

    def recorded_grade(exercise, outputs, *args, **kwargs):
        events.append("grade")
        return real_grade(exercise, outputs, *args, **kwargs)

    monkeypatch.setattr(llm.AsyncCaller, "_openai_call", answer_in_waves)
    monkeypatch.setattr(grading, "grade", recorded_grade)
    hand_in = write(tmp_path / "in.jsonl", *(sub(f"l{i}", "t/greet", f"p{i}") for i in range(4)))
    code, _, err = lab(capsys, *grade_args(course, "http://127.0.0.1:9/v1", tmp_path / "out", hand_in), "--concurrency", "2")
    assert code == 0, err
    assert events[:2] == ["send p0", "send p1"]
    assert events[2:4] == ["send p2", "send p3"], events  # the second wave went out before the first was graded
    assert events[4:] == ["grade"] * 4


def test_a_write_whose_grading_was_stopped_still_lands_and_the_writer_goes_on(tmp_path: Path):
    """Ctrl-c cancels the gradings waiting for their writes; cancelling a write's future used to succeed, and the
    writer thread then died setting its result, with every write queued behind it lost (paid answers included)."""
    from lab.classroom.cohort import CohortStore

    with CohortStore(tmp_path / "c") as store:
        writer = store.writer()
        first = writer.submit([("INSERT INTO problems (run, path, line, message) VALUES (?, ?, ?, ?)", (1, "a", 1, "one"))])
        assert not first.cancel()  # a grading stopped while it waited: its write goes in all the same
        writer.submit([("INSERT INTO problems (run, path, line, message) VALUES (?, ?, ?, ?)", (1, "a", 2, "two"))]).result(timeout=30)
        writer.close()
    assert [m for (m,) in db_rows(tmp_path / "c", "SELECT message FROM problems ORDER BY line")] == ["one", "two"]
