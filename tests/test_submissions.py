"""Reading submissions: JSON Lines and CSV, every bad line named with its file and line, the rest read."""

from __future__ import annotations

import json
from pathlib import Path

from lab.classroom.submissions import FORMAT, Submission, pick, read_submissions


def line(**fields) -> str:
    data = {"format": FORMAT, "learner": "ana", "exercise": "t/greet", "prompt": "Say hello."}
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not ...})


def test_jsonl_bad_lines_are_named_and_the_rest_read(tmp_path: Path):
    f = tmp_path / "hand-in.jsonl"
    f.write_text("\n".join([
        line(),
        "{not json",
        "[1, 2]",
        line(learner=""),
        line(learner=...),
        line(format="other/2"),
        line(prompt=...),
        line(hints_used=-1),
        "",
        line(learner="bob", extra_field="ignored"),
    ]) + "\n", encoding="utf-8")
    read = read_submissions([f])
    assert [s.learner for s in read.submissions] == ["ana", "bob"]
    assert [str(p) for p in read.problems] == [
        f"{f}:2: not valid JSON (Expecting property name enclosed in double quotes at column 2); each line must be one JSON object",
        f"{f}:3: not a JSON object; each line must be one submission object",
        f"{f}:4: the learner has no name; set `learner` (the learner exports with --learner NAME)",
        f"{f}:5: the learner has no name; set `learner` (the learner exports with --learner NAME)",
        f"{f}:6: `format` must be \"{FORMAT}\" (a line written by `lab export`)",
        f"{f}:7: `prompt` is missing",
        f"{f}:8: `hints_used`: Input should be greater than or equal to 0",
    ]
    assert read.submissions[1].line == 10


def test_a_key_the_hand_in_chose_is_escaped_in_the_message(tmp_path: Path):
    f = tmp_path / "hand-in.jsonl"
    f.write_text("\n".join([line(outputs={"a\nb": None}), line(outputs={"\x1b[2J" + "x" * 100: None})]), encoding="utf-8")
    assert [str(p) for p in read_submissions([f]).problems] == [
        f'{f}:1: `outputs."a\\nb"`: Input should be a valid list',
        f'{f}:2: `outputs."\\u001b[2Jxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"`: Input should be a valid list',
    ]


def test_csv_with_extra_columns_and_quoted_newlines(tmp_path: Path):
    f = tmp_path / "class.csv"
    f.write_text('Learner,exercise,prompt,notes\nana,t/greet,"Say\nhello.",x\n,t/greet,Hi,\nbob,,Hi,\ncleo,t/greet,Hello there,\n', encoding="utf-8")
    read = read_submissions([f])
    assert [(s.learner, s.prompt, s.line) for s in read.submissions] == [("ana", "Say\nhello.", 2), ("cleo", "Hello there", 6)]
    assert [str(p) for p in read.problems] == [
        f"{f}:4: the learner has no name; fill in the `learner` column",
        f"{f}:5: `exercise`: String should have at least 1 character",
    ]


def test_a_quote_inside_an_unquoted_field_is_a_character_and_the_rows_after_it_are_read(tmp_path: Path):
    """Rows used to end where the quotes balanced: one `5" margin` left them odd to the end of the file, and every
    later row was named as an unclosed quoted field. A quote opens a field only where the field starts, as in csv."""
    f = tmp_path / "class.csv"
    f.write_text('learner,exercise,prompt\nana,t/greet,Use a 5" margin\nbob,t/greet,hello\n'
                 'cleo,t/greet,"two\nlines, ""quoted"""\ndan,t/greet,"never closed\neve,t/greet,lost\n', encoding="utf-8")
    read = read_submissions([f])
    assert [(s.learner, s.prompt, s.line) for s in read.submissions] == [
        ("ana", 'Use a 5" margin', 2), ("bob", "hello", 3), ("cleo", 'two\nlines, "quoted"', 4)]
    assert [str(p) for p in read.problems] == [
        f"{f}:6: a quoted field opened on this row never closes, so every line after it was read as part of it; "
        "close the quote (a quote inside a field is written \"\") and grade again"]


def test_csv_without_the_columns(tmp_path: Path):
    f = tmp_path / "class.csv"
    f.write_text("name,task,text\nana,t/greet,Hi\n", encoding="utf-8")
    read = read_submissions([f])
    assert read.submissions == []
    assert [str(p) for p in read.problems] == [f"{f}:1: the header lacks learner, exercise, prompt; the first row must name the columns learner,exercise,prompt"]


def test_files_folders_and_what_cannot_be_read(tmp_path: Path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(line() + "\n", encoding="utf-8")
    (tmp_path / "in" / "b.csv").write_text("learner,exercise,prompt\nbob,t/greet,Hi\n", encoding="utf-8")
    (tmp_path / "in" / "notes.txt").write_text("ignored", encoding="utf-8")
    (tmp_path / "latin1.jsonl").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "x.txt").write_text("x", encoding="utf-8")
    read = read_submissions([tmp_path / "in", tmp_path / "latin1.jsonl", tmp_path / "empty", tmp_path / "x.txt", tmp_path / "missing.jsonl"])
    assert sorted(s.learner for s in read.submissions) == ["ana", "bob"]
    assert [str(p) for p in read.problems] == [
        f"{tmp_path / 'latin1.jsonl'}:1: this line is not UTF-8 text; save the file as UTF-8",
        f"{tmp_path / 'empty'}: this folder holds no .jsonl or .csv file; give the folder the submissions are in",
        f"{tmp_path / 'x.txt'}: not a submission file: give a .jsonl file from `lab export` or a .csv with learner,exercise,prompt",
        f"{tmp_path / 'missing.jsonl'}: no such file or folder; check the path",
    ]


def test_a_quote_that_never_closes_is_named_not_sent_with_the_rows_it_swallowed(tmp_path: Path):
    f = tmp_path / "class.csv"
    f.write_text("learner,exercise,prompt\nmal,t/greet,\"Hello there\n" + "".join(f"l{n},t/greet,Hi\n" for n in range(200)), encoding="utf-8")
    read = read_submissions([f])
    assert read.submissions == []  # not mal with 200 classmates' rows for a prompt
    assert [str(p) for p in read.problems] == [
        f"{f}:2: a quoted field opened on this row never closes, so every line after it was read as part of it; "
        'close the quote (a quote inside a field is written "") and grade again']


def test_a_pipe_or_a_device_among_the_submissions_is_named_not_waited_on(tmp_path: Path):
    import os

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text(line() + "\n", encoding="utf-8")
    os.mkfifo(folder / "f.jsonl")  # opened to read, a pipe with no writer blocks for good
    (folder / "z.jsonl").symlink_to("/dev/zero")  # one endless line
    os.mkfifo(tmp_path / "given.csv")
    read = read_submissions([folder, tmp_path / "given.csv"])
    assert [s.learner for s in read.submissions] == ["ana"]
    why = "not a regular file (a device, a pipe or a socket); give the submission files themselves"
    assert [str(p) for p in read.problems] == [f"{folder / 'f.jsonl'}: {why}", f"{folder / 'z.jsonl'}: {why}", f"{tmp_path / 'given.csv'}: {why}"]


def sub(prompt: str, created: str | None, score: float | None, status: str | None = "graded") -> Submission:
    return Submission("ana", "t/greet", prompt, Path("f.jsonl"), 1, created=created, score=score, status=status)


def test_pick_last_and_best():
    items = [sub("a", "2026-01-01T10:00:00+00:00", 0.9), sub("b", "2026-01-02T10:00:00+00:00", 0.4),
             sub("c", "2026-01-03T10:00:00+00:00", None, status="failed")]
    assert pick(items, "last")[("ana", "t/greet")].prompt == "b"  # a failed call was not the learner's choice
    assert pick(items, "best")[("ana", "t/greet")].prompt == "a"
    assert pick([items[2]], "last")[("ana", "t/greet")].prompt == "c"  # nothing else handed in
    csv_rows = [sub("x", None, None, None), sub("y", None, None, None)]
    assert pick(csv_rows, "last")[("ana", "t/greet")].prompt == "y"  # without dates: the order read


def test_a_lone_surrogate_is_named_and_a_pair_is_kept(tmp_path: Path):
    """`"\\ud800"` is valid JSON but no text: it passed every check and then stopped `lab grade` with an internal error
    when cohort.db (UTF-8) was asked to keep it."""
    from lab.classroom.cohort import CohortStore
    from lab.classroom.grading import take_in

    f = tmp_path / "hand-in.jsonl"
    f.write_text("\n".join([line(prompt="x").replace('"x"', '"half \\ud800 of it"'),
                            line(learner="bob", prompt="x").replace('"x"', '"smile \\ud83d\\ude00"')]) + "\n", encoding="utf-8")
    problems: list[str] = []
    with CohortStore(tmp_path / "c") as store:
        take_in(store, store.begin_run("openai/echo"), [str(f)], on_problem=lambda p: problems.append(str(p)))
        kept = [(s["learner"], s["prompt"]) for s in store.submissions()]
    assert problems == [f"{f}:1: holds a lone surrogate escape (such as \\ud800), which is no character; export the submission again"]
    assert kept == [("bob", "smile 😀")]


def test_a_hand_in_whose_name_is_not_utf8_or_holds_an_escape_is_kept_and_named_safely(tmp_path: Path, capsys):
    """A name from another system (caf\xe9.jsonl in Latin-1) stopped `lab grade` when cohort.db was asked to keep
    it, and a name holding a terminal escape reached the terminal in the problem printed for it."""
    import os

    from lab.classroom.cohort import CohortStore
    from lab.classroom.grading import take_in
    from lab.cli.trainer import ProblemPrinter

    folder = tmp_path / "hand-ins"
    folder.mkdir()
    Path(os.fsdecode(bytes(folder) + b"/caf\xe9.jsonl")).write_text(line() + "\n", encoding="utf-8")
    (folder / "x\x1b[2Jy.jsonl").write_text("{not json\n", encoding="utf-8")
    shown = ProblemPrinter()
    with CohortStore(tmp_path / "c") as store:
        take_in(store, store.begin_run("openai/echo"), [str(folder)], on_problem=shown)
        [source] = [s["source"] for s in store.submissions()]
    assert source.endswith("/caf\\udce9.jsonl")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "x\\x1b[2Jy.jsonl:1: not valid JSON" in err
