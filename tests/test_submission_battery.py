"""A property-based battery over submission lines (issue 25): whatever a .jsonl or .csv file holds, reading
it ends in submissions and problems (each one line naming its file and line), never an exception; what is
read keeps the limits; and taken into a cohort and drawn as a report, nothing raw reaches the page.

Bounded by size (lines of at most a few kilobytes, files of at most a few dozen lines) and by example
count, never by the clock. `pytest tests/test_submission_battery.py --hypothesis-show-statistics` says
how many inputs each property tried.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lab.classroom.cohort import CohortStore
from lab.classroom.records import task_key
from lab.classroom.report import render
from lab.classroom.submissions import (
    MAX_EXERCISE_CHARS,
    MAX_NAME_CHARS,
    MAX_PROMPT_CHARS,
    FORMAT,
    InputProblem,
    Submission,
    iter_submissions,
    name_problem,
    normalise,
)

# derandomize: the same examples on every run, so CI is deterministic; LAB_BATTERY_EXAMPLES=5000 explores further
BATTERY = settings(max_examples=int(os.environ.get("LAB_BATTERY_EXAMPLES", "250")), deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow], database=None)

# text a careless or hostile hand-in may hold: controls, bidi overrides, line separators, combining marks,
# lone surrogates (JSON can carry them escaped), quotes and commas (CSV), braces (templates)
HOSTILE = st.sampled_from(["\x00", "\n", "\r", "\r\n", "\t", "\x1b[2J", "\u202e", "\u2066", "\u2028", "\u0301", "\ud800", '"', '""',
                           ",", "{{", "}}", "{%", " ", "\ufeff", "é", "\U0001f600", "a/b", "../", "<script>"])
TEXT = st.lists(st.one_of(HOSTILE, st.text(max_size=12)), max_size=8).map("".join)
VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)
FIELDS = ("format", "learner", "exercise", "exercise_hash", "prompt", "model", "created", "status", "score", "passed", "hints_used", "outputs")


@st.composite
def submission_objects(draw: st.DrawFn) -> dict:
    """Mostly well-formed lines of `lab export` with hostile values in some fields, some fields dropped."""
    data = {"format": FORMAT, "learner": draw(TEXT), "exercise": draw(TEXT), "prompt": draw(TEXT)}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        data[name] = draw(VALUE)
    for name in draw(st.lists(st.sampled_from(list(data)), max_size=2)):
        data.pop(name, None)
    return data


def json_line(data: dict, ascii_only: bool) -> bytes:
    return json.dumps(data, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


JSONL_LINES = st.lists(st.one_of(
    st.builds(json_line, submission_objects(), st.booleans()),
    st.binary(max_size=200),
    st.builds(lambda v: json.dumps(v).encode(), VALUE),
    st.just(b"[" * 5000),  # nested deeper than the parser goes
    st.just(b'{"format": "prompt-lab-submission/1", "learner": "a", "exercise": "x", "prompt": "p", "hints_used": 1' + b"0" * 5000 + b"}"),
), max_size=12)


def csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text


CSV_ROWS = st.lists(st.one_of(
    st.builds(lambda a, b, c: ",".join(map(csv_field, (a, b, c))), TEXT, TEXT, TEXT),
    TEXT,  # anything, quotes unbalanced included
), max_size=10)


def read_all(path: Path) -> list[Submission | InputProblem]:
    items = list(iter_submissions([path]))
    assert all(isinstance(item, (Submission, InputProblem)) for item in items)
    return items


def check(items: list[Submission | InputProblem], path: Path, physical_lines: int, rows: int | None = None) -> None:
    """`physical_lines` counts \\n (the lines problems are numbered in); `rows` what may each give one
    thing (a CSV row ends at a lone \\r too, as Python's csv and old spreadsheets have it)."""
    assert len(items) <= (rows or physical_lines) + 1  # a line or row gives at most one thing (a CSV row may span lines)
    for item in items:
        if isinstance(item, InputProblem):
            assert item.path == path and item.message and "\n" not in item.message and "\r" not in item.message
            assert item.line is None or 1 <= item.line <= physical_lines + 1
        else:
            assert item.learner == normalise(item.learner) and item.learner and name_problem(item.learner) is None
            assert item.exercise == normalise(item.exercise) and name_problem(item.exercise, "exercise id", MAX_EXERCISE_CHARS) is None
            assert len(item.learner) <= MAX_NAME_CHARS and len(item.prompt) <= MAX_PROMPT_CHARS
            assert len(item.key) == 32  # the identity is computable for whatever text was read


def report_of(items: list[Submission | InputProblem]) -> str:
    """The submissions read, taken into a cohort with a planned result each, drawn as the report."""
    kept = [s for s in items if isinstance(s, Submission)]
    with tempfile.TemporaryDirectory() as folder, CohortStore(Path(folder)) as store:
        store.add_submissions(kept)
        seen: dict[tuple[str, str], Submission] = {s.learner + "\0" + s.exercise: s for s in kept}  # type: ignore[misc]
        store.prepare([{"learner": s.learner, "exercise": s.exercise, "submission": s.key, "prompt": s.prompt, "task": task_key(s.key),
                        "exercise_hash": "h", "track": s.exercise, "skills": [s.exercise], "model": "m", "judge_model": None}
                       for s in seen.values()])
        store.add_problems(store.begin_run("m"), [p for p in items if isinstance(p, InputProblem)])
        return render(store)


RAW = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@BATTERY
@given(lines=JSONL_LINES, crlf=st.booleans(), bom=st.booleans())
def test_any_jsonl_ends_in_submissions_and_problems(lines: list[bytes], crlf: bool, bom: bool):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hand-in.jsonl"
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (b"\r\n" if crlf else b"\n").join(lines))
        items = read_all(path)
        check(items, path, path.read_bytes().count(b"\n") + 1)
        page = report_of(items)
    assert not RAW.search(page)


@BATTERY
@given(rows=CSV_ROWS, header=st.sampled_from(["learner,exercise,prompt", "Prompt,LEARNER,exercise,notes", "name,task", ""]))
@example(rows=["\x00\r\x00\r\x00\r\x00"], header="learner,exercise,prompt")  # lone \r: four rows on one \n line
def test_any_csv_ends_in_submissions_and_problems(rows: list[str], header: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "class.csv"
        path.write_bytes("\n".join([header, *rows]).encode("utf-8", "surrogatepass"))
        items = read_all(path)
        data = path.read_bytes()
        check(items, path, data.count(b"\n") + 1, rows=len(re.findall(rb"\r\n|\r|\n", data)) + 1)
        page = report_of(items)
    assert not RAW.search(page)
