"""`lab grade` against hostile or careless input (issue 25, the class): one run per cohort folder, calls
claimed before they are made, lines and prompts over the limits named and never sent, learner names
that cannot be shown refused, and nothing raw reaching the report."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from test_grade import course, grade_args, lab, sent, sub, write  # noqa: F401  (course is a fixture)

from lab.classroom.cohort import CohortStore
from lab.classroom.lock import FolderLock
from lab.classroom.submissions import MAX_LINE_BYTES, MAX_NAME_CHARS, MAX_PROMPT_CHARS, read_submissions


def test_a_second_run_into_the_same_folder_says_who_holds_it_and_exits_2(capsys, course: Path, tmp_path: Path):
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello!"))
    out = tmp_path / "c"
    with FolderLock(out):  # another `lab grade` (flock: a second open of the file is another holder, even in this process)
        holder = json.loads((out / "cohort.lock").read_text(encoding="utf-8"))
        code, stdout, err = lab(capsys, *grade_args(course, "http://127.0.0.1:9/v1", out, f))
    assert code == 2 and stdout == ""
    assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
    assert err == (f"lab: {out} is being graded by another `lab grade` (pid {os.getpid()} on {socket.gethostname()}, "
                   f"since {holder['since']}): wait for it to finish (or stop it), then run the same command again.\n")
    assert not (out / "cohort.db").exists()  # nothing was read, planned or called


def test_the_lock_goes_with_its_holder(tmp_path: Path):
    lock = FolderLock(tmp_path / "c")
    lock.acquire()
    lock.release()
    with FolderLock(tmp_path / "c"):  # taken again at once: nothing is left behind
        pass


def test_a_file_system_that_takes_no_lock_is_said_and_the_run_goes_on(capsys, course: Path, tmp_path: Path, monkeypatch):
    import errno
    import fcntl

    def no_locks(fd: int, operation: int) -> None:  # an NFS or SMB share without lock support
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello!"))
    out = tmp_path / "out"
    code, _, err = lab(capsys, *grade_args(course, "http://127.0.0.1:9/v1", out, f))
    assert err.startswith(f"lab: {out / 'cohort.lock'} cannot be locked on this file system (No locks available): a second "
                          "`lab grade` on this folder would not be stopped, though no call would be paid for twice.\n")
    assert code == 1 and (out / "cohort.db").exists()  # graded on (the dead endpoint leaves the submission ungraded)


@pytest.mark.live
def test_results_claimed_by_another_live_run_are_left_to_it(capsys, course: Path, tmp_path: Path, live_provider, monkeypatch):
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello ana!"), sub("bob", "t/greet", "Hello bob!"))
    out = tmp_path / "c"
    argv = grade_args(course, live_provider.url, out, f, model="openai/gpt-4o-mini")
    # a first run stopped by its cap before any call: both results planned, pending
    code, _, err = lab(capsys, *argv, "--max-cost", "0")
    assert code == 1 and live_provider.requests == []
    # another run, alive (this process, on this machine, said so just now), has claimed ana's
    with CohortStore(out) as store:
        other = store.begin_run("openai/gpt-4o-mini")
        started = store.runs()[-1]["started_at"]
    with sqlite3.connect(out / "cohort.db") as db:
        db.execute("UPDATE results SET claimed_by=? WHERE learner='ana'", (other,))
    code, stdout, err = lab(capsys, *argv, "--max-cost", "1")
    assert code == 1
    assert [r["messages"][-1]["content"] for r in live_provider.requests] == ["Hello bob!"]  # ana's call is never made
    assert (f"1 submission(s) were left to another `lab grade` that is grading them (pid {os.getpid()} on {socket.gethostname()}, "
            f"since {started}): run the same command again once it has finished.") in err
    assert "  ana · t/greet: not graded yet (another run is grading it)" in err
    # that run is gone (it stopped saying it is alive): its claim no longer holds
    with sqlite3.connect(out / "cohort.db") as db:
        db.execute("UPDATE runs SET alive_at=? WHERE id=?", (time.time() - 3600, other))
    code, stdout, err = lab(capsys, *argv, "--max-cost", "1", "--json")
    assert code == 0, err
    assert [r["messages"][-1]["content"] for r in live_provider.requests] == ["Hello bob!", "Hello ana!"]
    with sqlite3.connect(out / "cohort.db") as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT result_id) FROM calls").fetchone() == (2, 2)


def test_a_line_over_the_limit_is_named_skipped_unread_and_in_the_report(capsys, course: Path, tmp_path: Path, cassette, api_base: str,
                                                                      recording: bool):
    huge = sub("cleo", "t/greet", "x" * (3 * MAX_LINE_BYTES))  # 3 MB of prompt on one line
    long_prompt = sub("dan", "t/greet", "y" * (MAX_PROMPT_CHARS + 1))
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello!"), huge, long_prompt)
    size = len(huge) + 1
    out = tmp_path / "c"
    code, stdout, err = lab(capsys, *grade_args(course, api_base, out, f), "--json")
    assert code == 2
    too_long = f"the line is {size:,} bytes, over the limit of 1,000,000; it was skipped unread (nothing of it is sent to a model)"
    too_wordy = f"the prompt is {MAX_PROMPT_CHARS + 1:,} characters long, over the limit of 100,000; it was skipped (nothing of it is sent to a model)"
    assert f"lab: {f}:2: {too_long} (skipped)" in err
    assert f"lab: {f}:3: {too_wordy} (skipped)" in err
    data = json.loads(stdout)
    assert [r["learner"] for r in data["results"]] == ["ana"] and data["results"][0]["status"] == "graded"
    assert data["problems"] == [{"path": str(f), "line": 2, "message": too_long}, {"path": str(f), "line": 3, "message": too_wordy}]
    assert sent(cassette, recording) == 1  # only ana's line was sent
    with sqlite3.connect(out / "cohort.db") as db:
        assert db.execute("SELECT learner FROM submissions").fetchall() == [("ana",)]
        assert db.execute("SELECT MAX(LENGTH(text)) FROM calls").fetchone()[0] < 1000
    report = (out / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="skipped">Skipped submissions (2)</h2>' in report
    assert f'<tr><td>{f}</td><td>2</td><td class="warn">{too_long}</td></tr>' in report
    assert [p["line"] for p in json.loads((out / "skipped.json").read_text(encoding="utf-8"))] == [2, 3]


def test_a_csv_row_over_the_limit_is_skipped_and_the_rows_after_it_are_read(tmp_path: Path):
    f = tmp_path / "class.csv"
    big = '"' + "line of a long prompt\n" * (MAX_LINE_BYTES // 20) + '"'  # one quoted field over many lines
    f.write_text(f"learner,exercise,prompt\nana,t/greet,Hi\nbob,t/greet,{big}\ncleo,t/greet,\"Say\nhello\"\n", encoding="utf-8")
    read = read_submissions([f])
    assert [(s.learner, s.line) for s in read.submissions] == [("ana", 2), ("cleo", 3 + MAX_LINE_BYTES // 20 + 1)]
    [problem] = read.problems
    assert problem.line == 3 and str(problem).startswith(f"{f}:3: the row is ") and "over the limit of 1,000,000" in str(problem)


@pytest.mark.parametrize("name, message", [
    ("an\x00a", "the learner's name holds a control character (U+0000); use plain text on one line"),
    ("ana\nbob", "the learner's name holds a control character (U+000A); use plain text on one line"),
    ("ana\u2028bob", "the learner's name holds a control character (U+2028); use plain text on one line"),
    ("\u202eana", "the learner's name holds a bidirectional control character (U+202E), which can make it display as another name; remove it"),
    ("ana\u2066x\u2069", "the learner's name holds a bidirectional control character (U+2066), which can make it display as another name; remove it"),
    ("a" * 10_000, f"the learner's name is 10,000 characters long; at most {MAX_NAME_CHARS} are allowed"),
])
def test_a_learner_name_that_cannot_be_shown_is_refused_with_its_line(tmp_path: Path, name: str, message: str):
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps({"format": "prompt-lab-submission/1", "learner": "ok", "exercise": "t/greet", "prompt": "Hi"}) + "\n"
                 + json.dumps({"format": "prompt-lab-submission/1", "learner": name, "exercise": "t/greet", "prompt": "Hi"}) + "\n",
                 encoding="utf-8")
    c = tmp_path / "a.csv"
    c.write_text("learner,exercise,prompt\n" + '"' + name.replace('"', '""') + '",t/greet,Hi\n', encoding="utf-8")
    read = read_submissions([f, c])
    assert [s.learner for s in read.submissions] == ["ok"]
    assert [str(p) for p in read.problems] == [f"{f}:2: {message}", f"{c}:2: {message}"]


def test_names_are_normalised_so_one_learner_is_one_name(tmp_path: Path):
    f = write(tmp_path / "a.jsonl", sub("  Zoe\u0301 ", "t/greet", "one"), sub("Zo\u00e9", "t/greet", "two"), sub("x", " t/greet\t", "three"))
    read = read_submissions([f])
    assert [(s.learner, s.exercise) for s in read.submissions] == [("Zo\u00e9", "t/greet"), ("Zo\u00e9", "t/greet"), ("x", "t/greet")]
    assert read.problems == []


def test_export_refuses_a_name_it_could_not_hand_in(capsys):
    code, _, err = lab(capsys, "export", "--learner", "ana\u202e")
    assert code == 2
    assert err == ("lab: This learner name cannot be used: the learner's name holds a bidirectional control character (U+202E), "
                   "which can make it display as another name; remove it.\n")


def test_no_raw_control_character_reaches_the_report(capsys, course: Path, tmp_path: Path, cassette, api_base: str):
    # names are refused on reading; a prompt is the learner's own text and goes to the model as it is, but the
    # report shows a NUL or an escape as a symbol
    f = write(tmp_path / "a.jsonl", sub("ana", "t/greet", "Hello\u0000 {{ name }}\u001b[2J"), sub("bob", "t/greet", "Hello\u0000 {{ name }}\u001b[2J"))
    out = tmp_path / "c"
    code, stdout, err = lab(capsys, *grade_args(course, api_base, out, f))
    assert code == 0, err
    report = (out / "report.html").read_bytes()
    assert b"\x00" not in report and b"\x1b" not in report
    assert "Hello\u2400 {{ name }}\u241b[2J" in report.decode("utf-8")  # the near-identical prompts, shown
