"""lab.format.validation: the TUI's background check, in a process of its own."""

from __future__ import annotations

import io
from pathlib import Path

from fixtures.exercise_files import minimal, write_exercise

from lab.format import validation as validation_process
from lab.format.catalog import load_index

BROKEN_TEMPLATE = "{% block brief %}Hello {{ nobody_defined_this }}.{% endblock %}\n"


def test_the_child_reports_each_broken_exercise_and_records_every_outcome_in_the_index(lab_home, tmp_path: Path):
    root = tmp_path / "course"
    write_exercise(root, "zz/broken.j2", minimal(title="Looks fine from outside"), BROKEN_TEMPLATE)
    write_exercise(root, "zz/fine.j2", minimal(title="Fine"))
    process = validation_process.start([str(root)])
    assert process.stdout is not None
    found = list(validation_process.findings(process.stdout))
    assert process.wait(timeout=60) == 0
    assert [b.path.name for b in found] == ["broken.j2"]
    assert "'nobody_defined_this' is not defined" in found[0].problems[0].message
    entries = {e.path.name: e for e in load_index([str(root)]).entries}
    assert entries["fine.j2"].validated and not entries["fine.j2"].broken
    assert entries["broken.j2"].broken  # the next command knows it without validating again


def test_a_line_cut_short_by_a_killed_child_is_skipped():
    stream = io.StringIO('{"path": "/a.j2", "problems": [{"path": "/a.j2", "line": 3, "message": "m", "fix": "f"}]}\n{"path": "/b.j2", "probl')
    found = list(validation_process.findings(stream))
    assert [(str(b.path), b.problems[0].line) for b in found] == [("/a.j2", 3)]
