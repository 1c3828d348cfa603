"""Hostile exercise folders: symlink loops, recursive includes, and a walk over every kind of broken file.

Each bad path is one problem naming the file (and the line, where there is one); its siblings still load,
and no command shows a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.format.loader import load_catalog, load_paths


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text and "Error:" not in text.replace("lab: ", ""), text


@pytest.fixture
def looped(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_exercise(root, "t/good.j2", minimal(title="Still loads"))
    os.symlink("..", root / "t" / "up")  # a folder that contains itself
    os.symlink("self.j2", root / "t" / "self.j2")  # an exercise file that is a link to itself
    os.symlink("ring", root / "t" / "ring")  # a link to itself with a folder's name
    return root


def test_symlink_loops_are_one_problem_each_and_siblings_load(looped: Path):
    for catalog in (load_catalog([looped]), load_paths([looped])):
        assert "t/good" in {e.id for e in catalog.exercises}
        mine = sorted((str(p.path.relative_to(looped)), p.message) for p in catalog.problems if str(p.path).startswith(str(looped)))
        assert mine == [
            ("t/ring", "symlink loop: following this link leads back to itself"),
            ("t/self.j2", "symlink loop: following this link leads back to itself"),
            ("t/up", f"symlink loop: this link leads back to {looped}, a folder that contains it; it is skipped"),
        ]


@pytest.mark.parametrize("command", [["list"], ["validate"], ["show", "t/good"], ["validate", "{root}/t/self.j2"]])
def test_every_command_survives_a_symlink_loop(looped: Path, capsys, command: list[str]):
    argv = [part.format(root=looped) for part in command]
    code = main([*argv, "--exercises", str(looped)])
    out, err = capsys.readouterr()
    assert_no_traceback(out + err)
    if argv[0] == "validate":
        assert code == 2 and "symlink loop" in out
    else:
        assert code == 0 and ("\nt (" in out and "\n  good " in out if argv[0] == "list" else "Do the task." in out)


# ------------------------------------------------------------------ includes that never end

INCLUDING = "{% block brief %}Do the task.\n{% include '_b.j2' %}{% endblock %}\n"


def test_an_include_of_itself_is_reported_with_the_chain_file_and_line(tmp_path: Path):
    root = tmp_path / "course"
    write_exercise(root, "t/a.j2", minimal(), INCLUDING)
    (root / "_b.j2").write_text("A partial\nthat includes\n{% include '_b.j2' %}\n", encoding="utf-8")
    write_exercise(root, "t/good.j2", minimal(title="Still loads"))
    catalog = load_catalog([root])
    assert "t/good" in {e.id for e in catalog.exercises}
    [problem] = [p for p in catalog.problems if str(p.path).startswith(str(root))]
    assert (problem.path, problem.line) == (root / "_b.j2", 3)
    assert problem.message == "template error: includes itself: t/a.j2 → _b.j2 → _b.j2"
    assert "remove the {% include %} on that line" in problem.fix


def test_files_including_each_other_are_a_loop(tmp_path: Path):
    root = tmp_path / "course"
    write_exercise(root, "t/a.j2", minimal(), INCLUDING)
    (root / "_b.j2").write_text("{% include '_c.j2' %}\n", encoding="utf-8")
    (root / "_c.j2").write_text("\n{% import '_b.j2' as b %}\n", encoding="utf-8")
    [problem] = [p for p in load_catalog([root]).problems if str(p.path).startswith(str(root))]
    assert (problem.path, problem.line) == (root / "_c.j2", 2)
    assert problem.message == "template error: files include each other in a loop: t/a.j2 → _b.j2 → _c.j2 → _b.j2"


def test_an_include_by_variable_that_recurses_is_a_problem_not_a_crash(tmp_path: Path, capsys):
    root = tmp_path / "course"
    write_exercise(root, "t/a.j2", minimal(vars={"part": "_b.j2"}), "{% block brief %}{% include part %}{% endblock %}\n")
    (root / "_b.j2").write_text("again {% include part %}\n", encoding="utf-8")
    assert main(["validate", str(root)]) == 2
    out, err = capsys.readouterr()
    assert_no_traceback(out + err)
    assert "template error: templates include each other without end while rendering block 'brief'" in out


# ------------------------------------------------------------------ where a YAML mistake is


@pytest.mark.parametrize(("line", "opened", "closer", "gave_up", "why"), [
    ("level: [1", "[", "]", 5, "expected ',' or ']', but got ':'"),
    ("level: {n: 1", "{", "}", 5, "expected ',' or '}', but got ':'"),
    ('title: "A test', '"', '"', 8, "found unexpected end of stream"),
], ids=["sequence", "mapping", "quote"])
def test_an_unclosed_construct_is_reported_where_it_opens(tmp_path: Path, line: str, opened: str, closer: str, gave_up: int, why: str):
    text = f"---\nformat: 1\ntitle: A test exercise\n{line}\ncases:\n  - name: only\nrubric: {{criteria: [{{id: a, check: contains, value: x}}]}}\n---\n{{% block brief %}}Do.{{% endblock %}}\n"
    if opened == '"':
        text = text.replace("title: A test exercise\n", "").replace("format: 1\n", "format: 1\nlevel: 1\n")
    path = tmp_path / "t.j2"
    path.write_text(text, encoding="utf-8")
    [problem] = load_paths([path]).problems
    assert problem.line == 4 == text.splitlines().index(line) + 1
    assert problem.message == f"front matter is not valid YAML: the `{opened}` opened on line 4 is never closed (the parser gave up on line {gave_up}: {why})"
    assert problem.fix == f"close it with `{closer}` on line 4, or put the whole value in quotes if the `{opened}` is text"


def test_a_missing_layout_names_the_line_of_its_extends(tmp_path: Path):
    path = write_exercise(tmp_path, "t/e.j2", minimal(), "\n{% extends '_nope.j2' %}\n{% block brief %}Do.{% endblock %}\n")
    [problem] = load_paths([path]).problems
    assert (problem.path, problem.line) == (path, path.read_text(encoding="utf-8").splitlines().index("{% extends '_nope.j2' %}") + 1)
    assert problem.message == "template error: no file '_nope.j2' in this exercise root (the layout this {% extends %} names)"
    assert problem.fix == f"layouts are looked up from the exercise root ({path.parent}); check the name, or give the course's top folder with --exercises"


# ------------------------------------------------------------------ a walk over every kind of hostile file

BROKEN = Path(__file__).resolve().parent / "broken"


def _bomb() -> str:
    lines = ["---", "a: &a [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        lines.append(f"b{level}: &b{level} [" + ", ".join([f"*{'a' if level == 1 else f'b{level - 1}'}"] * 9) + "]")
    return "\n".join(lines + ["---", ""])


HOSTILE: dict[str, tuple[object, str]] = {
    # name: (what is written there, what its one problem says)
    "binary.j2": (bytes(range(256)) * 8, "the file is not UTF-8 text (byte 128 cannot be read)"),
    "empty.j2": (b"", "no front matter: an exercise file starts with a line '---'"),
    "nul.j2": (b"a\0b\0", "no front matter: an exercise file starts with a line '---'"),
    "big.j2": (b"---\nformat: 1\ntitle: big\n---\n" + b"x" * (5 * 1024 * 1024), "the file is 5.0 MB; an exercise file is at most 1 MB"),
    "only-fences.j2": (b"---\n---\n", "the front matter must be YAML keys and values"),
    "list-front-matter.j2": (b"---\n- a\n- b\n---\n", "the front matter must be YAML keys and values"),
    "scalar-front-matter.j2": (b"---\njust text\n---\n", "the front matter must be YAML keys and values"),
    "alias-bomb.j2": (_bomb().encode(), "the front matter's aliases (*name) expand to 490,329,064 values, more than the 100,000 allowed"),
    "deep.j2": (("---\nformat: 1\ntitle: " + "[" * 3000 + "]" * 3000 + "\n---\n").encode(), "the front matter nests more than 100 levels deep"),
    "folder.j2": ("folder", "a folder named like an exercise file: only files ending in .j2 are exercises"),
    "pipe.j2": ("fifo", "not a plain file (a named pipe, socket or device): it cannot be read as an exercise"),
    "dangling.j2": ("link:nowhere.j2", "the link points at nowhere.j2, which does not exist"),
    "self-link.j2": ("link:self-link.j2", "symlink loop: following this link leads back to itself"),
}


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "course"
    write_exercise(root, "good/fine.j2", minimal(title="Still loads"))
    shutil.copytree(BROKEN, root / "broken")
    bad = root / "hostile"
    bad.mkdir()
    for name, (content, _) in HOSTILE.items():
        path = bad / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content == "folder":
            path.mkdir()
        elif content == "fifo":
            os.mkfifo(path)
        else:
            os.symlink(str(content).removeprefix("link:"), path)
    return root


def test_every_kind_of_hostile_file_is_one_problem_and_the_good_sibling_loads(hostile: Path):
    broken_kinds = [p.name for p in BROKEN.glob("*.j2") if not p.name.startswith("_")]
    assert len(broken_kinds) + len(HOSTILE) >= 20
    catalog = load_paths([hostile])
    assert [e.id for e in catalog.exercises] == ["good/fine"]
    for name, (_, says) in HOSTILE.items():
        problems = [p for p in catalog.problems if p.path.name == name]
        assert [says in p.message for p in problems] == [True], (name, [p.message for p in problems])
    for name in broken_kinds:
        assert len([p for p in catalog.problems if p.path.name == name]) >= 1, name


@pytest.mark.parametrize("command", [["list"], ["list", "--json"], ["validate"], ["check"], ["progress"],
                                     ["show", "good/fine"], ["list", "--track", "good"]])
def test_every_command_goes_on_past_hostile_files_without_a_traceback(hostile: Path, capsys, command: list[str]):
    argv = [*command, str(hostile)] if command[0] in ("validate", "check") else [*command, "--exercises", str(hostile)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert_no_traceback(out + err)
    assert "internal error" not in err
    if command[0] in ("validate", "check"):
        assert code == 2
        for name in HOSTILE:
            assert sum(line.startswith(str(hostile / "hostile" / name)) for line in out.splitlines()) == 1, name
    else:
        assert code == 0
        assert "good/fine" in out or "Still loads" in out or command[0] == "progress"


# ------------------------------------------------------------------ links that leave the exercise folder


@pytest.fixture
def leaking(tmp_path: Path) -> Path:
    """A course whose links lead out of it: to a valid exercise elsewhere, to a folder of them, to a
    partial elsewhere. Were any followed, `t/elsewhere` would be listed."""
    root = tmp_path / "course"
    outside = tmp_path / "elsewhere"
    write_exercise(root, "t/good.j2", minimal(title="Still loads"))
    write_exercise(outside, "t/elsewhere.j2", minimal(title="Never read"))
    (outside / "_part.j2").write_text("secret text of another folder\n", encoding="utf-8")
    os.symlink(outside / "t" / "elsewhere.j2", root / "t" / "linked.j2")
    os.symlink(outside / "t", root / "linkdir")
    os.symlink(outside / "_part.j2", root / "t" / "_part.j2")
    write_exercise(root, "t/includes.j2", minimal(title="Includes a link"), "{% block brief %}{% include 't/_part.j2' %}{% endblock %}\n")
    return root


def test_a_link_out_of_the_exercise_folder_is_a_problem_and_never_read(leaking: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere"
    for catalog in (load_catalog([leaking]), load_paths([leaking])):
        ids = {e.id for e in catalog.exercises}
        assert "t/good" in ids and not {"t/elsewhere", "t/linked", "linkdir/elsewhere"} & ids
        mine = sorted((str(p.path.relative_to(leaking)), p.message) for p in catalog.problems if str(p.path).startswith(str(leaking)))
        assert mine == [
            ("linkdir", f"this link points outside the exercise folder (to {outside / 't'}); it is not read"),
            ("t/includes.j2", f"template error: 't/_part.j2' is a link that points outside the exercise folder (to {outside / '_part.j2'}); it is not read"),
            ("t/linked.j2", f"this link points outside the exercise folder (to {outside / 't' / 'elsewhere.j2'}); it is not read"),
        ]
    named = load_paths([leaking / "t" / "linked.j2"], [leaking])
    assert named.exercises == [] and [p.message for p in named.problems] == [
        f"this link points outside the exercise folder (to {outside / 't' / 'elsewhere.j2'}); it is not read"]


@pytest.mark.parametrize("command", [["list"], ["validate"], ["show", "t/good"], ["progress"]])
def test_every_command_goes_on_past_a_link_out_of_the_folder(leaking: Path, capsys, command: list[str]):
    """These once all ended in "internal error (ValueError: … is not in the subpath of …)", loading nothing."""
    code = main([*command, "--exercises", str(leaking)])
    out, err = capsys.readouterr()
    assert_no_traceback(out + err)
    assert "internal error" not in err and "Never read" not in out
    if command[0] == "validate":
        assert code == 2 and "points outside the exercise folder" in out
    else:
        assert code == 0


def test_a_terminal_escape_written_as_a_yaml_escape_is_a_problem_and_never_listed(tmp_path: Path, capsys):
    """YAML's reader refuses a raw ESC, but "\\e]0;pwned\\a" in double quotes writes one: a title would set the
    learner's window title (or colour the screen) when `lab list` prints it. Past 50 unchecked files `lab list`
    reads titles without validating them; those are left out too, and named."""
    course = tmp_path / "course"
    for n in range(60):
        write_exercise(course, f"t/evil{n}.j2", minimal(id=f"t/evil{n}"), "{% block brief %}b{% endblock %}\n")
        path = course / "t" / f"evil{n}.j2"
        path.write_text(path.read_text(encoding="utf-8").replace("title: ", 'title: "\\e]0;pwned\\a" #', 1), encoding="utf-8")
    [problem] = load_paths([course / "t" / "evil0.j2"]).problems
    assert problem.message == "front matter is not valid YAML: a value holds the control character U+001B (written as an escape)"
    assert main(["list", "--exercises", str(course)]) == 0
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "pwned" not in out
    assert "60 exercise file(s) could not be loaded" in err


def test_a_carriage_return_written_as_an_escape_is_refused_by_the_loader_as_by_the_listing(tmp_path: Path):
    """"Safe\\rEVIL" as a title rewrites the line a terminal is on. The fast listing refused it and the full load let
    it through: one set of control characters now serves both."""
    from lab.format.listing import _has_control

    course = tmp_path / "course"
    write_exercise(course, "t/cr.j2", minimal(id="t/cr"), "{% block brief %}b{% endblock %}\n")
    path = course / "t" / "cr.j2"
    path.write_text(path.read_text(encoding="utf-8").replace("title: ", 'title: "Safe\\rEVIL" #', 1), encoding="utf-8")
    [problem] = load_paths([path]).problems
    assert problem.message == "front matter is not valid YAML: a value holds the control character U+000D (written as an escape)"
    assert _has_control("Safe\rEVIL") and not _has_control("tab\tand\nline")
