"""The catalogue index is never stale: each kind of change is seen by the very next command.

Every test goes through `lab list --json` (what a learner runs), so it proves the whole path:
stat, index, listing. Timings are measured in bench/catalog_scale.py, never here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main
from lab.format.catalog import INDEX_VERSION, load_index
from lab.settings import paths

LAB = Path(sys.executable).with_name("lab")
LAYOUT = '{% block brief %}{% endblock %}{% block starter %}Write here.{% endblock %}\n'
CHILD = '{% extends "_frame.j2" %}\n{% block brief %}Do the task.{% endblock %}\n'
MACROS = '{% macro shout(text) %}{{ text | upper }}{% endmacro %}\n'
IMPORTER = '{% import "_words.j2" as words %}\n{% block brief %}{{ words.shout("do it") }}{% endblock %}\n'


def listing(capsys: pytest.CaptureFixture[str], root: Path) -> dict[str, dict]:
    code = main(["list", "--json", "--exercises", str(root)])
    out, _ = capsys.readouterr()
    assert code == 0
    return {row["id"]: row for row in json.loads(out) if row["id"].startswith("t/")}


def problems(capsys: pytest.CaptureFixture[str], root: Path) -> str:
    main(["list", "--exercises", str(root)])
    return capsys.readouterr().err


def touch_later(path: Path, text: str) -> None:
    """Rewrite a file keeping its size and moving its mtime: only a stamp of the file's metadata
    (not its size alone) sees it."""
    before = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    write_exercise(course, "t/one.j2", minimal(title="First title"))
    write_exercise(course, "t/two.j2", minimal(title="Second", level=2))
    return course


def test_a_changed_title_is_seen_by_the_next_command(capsys, root: Path):
    assert listing(capsys, root)["t/one"]["title"] == "First title"
    path = root / "t/one.j2"
    touch_later(path, path.read_text().replace("First title", "Other title"))  # same size
    assert listing(capsys, root)["t/one"]["title"] == "Other title"


def test_added_removed_and_renamed_files_are_seen(capsys, root: Path):
    assert set(listing(capsys, root)) == {"t/one", "t/two"}
    write_exercise(root, "t/three.j2", minimal(title="Third"))
    assert set(listing(capsys, root)) == {"t/one", "t/two", "t/three"}
    (root / "t/two.j2").unlink()
    assert set(listing(capsys, root)) == {"t/one", "t/three"}
    (root / "t/three.j2").rename(root / "t/renamed.j2")
    assert set(listing(capsys, root)) == {"t/one", "t/renamed"}


def test_a_file_whose_front_matter_breaks_leaves_the_list_with_its_problem(capsys, root: Path):
    listing(capsys, root)
    path = root / "t/one.j2"
    path.write_text(path.read_text().replace("level: 1", "level: 9"), encoding="utf-8")
    assert "t/one" not in listing(capsys, root)
    assert "one.j2" in problems(capsys, root) and "'level'" in problems(capsys, root)


def test_a_changed_layout_voids_what_validation_found(capsys, root: Path):
    """An exercise that extends a broken layout is known broken after `lab validate`; fixing the
    layout alone (the exercise file untouched) brings it back at the next command."""
    (root / "_frame.j2").write_text("{% block brief %}{% endblock %}{% block starter %}{{ nope }}{% endblock %}\n", encoding="utf-8")
    write_exercise(root, "t/child.j2", minimal(title="Child"), CHILD)
    assert load_index([root]).entry("t/child") is not None  # front matter alone says nothing against it
    assert main(["validate", "--exercises", str(root), str(root)]) == 2
    capsys.readouterr()
    assert load_index([root]).entry("t/child").broken  # the index keeps what validation found
    assert "t/child" not in listing(capsys, root)
    assert "'nope' is not defined" in problems(capsys, root)
    (root / "_frame.j2").write_text(LAYOUT, encoding="utf-8")
    assert "t/child" in listing(capsys, root)
    assert "could not be loaded" not in problems(capsys, root)


def test_a_changed_import_voids_what_validation_found(capsys, root: Path):
    (root / "_words.j2").write_text("{% macro shout(text) %}{{ text | nope_filter }}{% endmacro %}\n", encoding="utf-8")
    write_exercise(root, "t/importer.j2", minimal(title="Importer"), IMPORTER)
    main(["validate", "--exercises", str(root), str(root)])
    capsys.readouterr()
    assert "t/importer" not in listing(capsys, root)
    (root / "_words.j2").write_text(MACROS, encoding="utf-8")
    assert "t/importer" in listing(capsys, root)


def test_a_partial_created_in_the_root_is_a_change(capsys, root: Path):
    """An exercise served the bundled `_layout.j2` changes when the root gets its own `_layout.j2`."""
    write_exercise(root, "t/bundled.j2", minimal(title="Uses the bundled layout"),
                   '{% extends "_layout.j2" %}\n{% block task %}Do it.{% endblock %}\n')
    main(["validate", "--exercises", str(root), str(root)])
    capsys.readouterr()
    assert "t/bundled" in listing(capsys, root)
    (root / "_layout.j2").write_text("{% block brief %}{{ undefined_here }}{% endblock %}\n", encoding="utf-8")
    main(["validate", "--exercises", str(root), str(root / "t/bundled.j2")])
    capsys.readouterr()
    assert "t/bundled" not in listing(capsys, root)


def test_opening_an_exercise_validates_it_and_records_the_result(capsys, root: Path):
    path = root / "t/one.j2"
    path.write_text(path.read_text().replace("Do the task.", "{{ missing_var }}"), encoding="utf-8")
    assert not load_index([root]).entry("t/one").validated  # changed: listed from its front matter until checked
    assert main(["show", "t/one", "--exercises", str(root)]) == 2
    assert "'missing_var' is not defined" in capsys.readouterr().err
    assert load_index([root]).entry("t/one").broken  # the index now knows
    assert "t/one" not in listing(capsys, root)


def test_a_listing_checks_the_changed_files_of_ones_own_folders(capsys, root: Path):
    """A broken file is never listed as an ordinary new exercise: `lab list` fully checks the files it has not
    seen checked (one's own folders), so it leaves the list and is counted at once."""
    path = root / "t/one.j2"
    path.write_text(path.read_text().replace("Do the task.", "{{ missing_var }}"), encoding="utf-8")
    assert set(listing(capsys, root)) == {"t/two"}
    err = problems(capsys, root)
    assert err.startswith("lab: 1 exercise file(s) could not be loaded; `lab validate` lists every problem.\n  first: ")
    assert "'missing_var' is not defined" in err


def test_more_changed_files_than_a_listing_checks_are_named_not_listed_as_checked(capsys, root: Path, monkeypatch):
    import lab.format.catalog as catalog

    monkeypatch.setattr(catalog, "CHECK_AT_MOST", 1)
    for name in ("one", "two"):
        path = root / f"t/{name}.j2"
        path.write_text(path.read_text() + "\n", encoding="utf-8")
    listed = listing(capsys, root)
    assert set(listed) == {"t/one", "t/two"}
    assert ("lab: 2 exercise file(s) of your own folders are not checked yet (listed from their front matter); "
            "`lab validate` checks them all (the lab does too, in the background).") in problems(capsys, root)


def test_a_corrupt_index_is_rebuilt_silently(capsys, root: Path):
    listing(capsys, root)
    index = paths.cache_dir() / "catalog-index.db"
    index.write_bytes(os.urandom(4096))
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    assert set(listing(capsys, root)) == {"t/one", "t/two"}
    assert "index" not in capsys.readouterr().err
    with sqlite3.connect(index) as db:  # and it is a working index again
        assert db.execute("PRAGMA user_version").fetchone()[0] == INDEX_VERSION
        assert db.execute("SELECT count(*) FROM files").fetchone()[0] >= 2


def test_an_index_of_another_version_is_rebuilt(capsys, root: Path):
    index = paths.cache_dir() / "catalog-index.db"
    index.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(index) as db:
        db.execute("CREATE TABLE files (path TEXT, something_else TEXT)")
        db.execute("INSERT INTO files VALUES ('x', 'y')")
        db.execute(f"PRAGMA user_version = {INDEX_VERSION + 7}")
    assert set(listing(capsys, root)) == {"t/one", "t/two"}
    with sqlite3.connect(index) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == INDEX_VERSION


def test_an_unwritable_cache_folder_still_lists(capsys, root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setattr(paths, "cache_dir", lambda: blocker / "cache")
    assert set(listing(capsys, root)) == {"t/one", "t/two"}


def test_two_processes_building_the_index_at_once_both_succeed(tmp_path: Path, root: Path):
    for n in range(60):
        write_exercise(root, f"t/many-{n:02}.j2", minimal(title=f"Exercise {n}"))
    env = {**os.environ, "LAB_HOME": str(tmp_path / "fresh-home"), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    runs = [subprocess.Popen([str(LAB), "list", "--json", "--exercises", str(root)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in results]
    first, second = (json.loads(out) for out, _ in results)
    assert first == second and len([r for r in first if r["id"].startswith("t/")]) == 62


def test_the_listing_matches_full_validation_on_the_bundled_curriculum():
    """The fast front-matter read gives what a full load gives, for every bundled exercise."""
    from lab.format.loader import load_catalog

    from lab.format.exercise import writes_label

    full = load_catalog()
    index = load_index()
    # several texts are listed in one word (`writes: [system, prompt]` -> `system+prompt`)
    assert [(e.id, e.title, e.track, e.level, e.skills, e.lang, e.writes) for e in index.exercises] == \
        [(e.id, e.title, e.track, e.level, e.skills, e.lang, writes_label(e.writes)) for e in full.exercises]


def test_an_index_another_process_holds_is_waited_for_never_removed_as_corrupt(capsys, root: Path):
    """Two first runs race to switch a new index to WAL; the switch does not wait for a lock, and the loser used
    to read "database is locked" as a damaged file and delete it under the winner (whose next write then found
    no table). The loser now waits its turn, and the file stays the one the other process has open."""
    import threading

    index = paths.cache_dir() / "catalog-index.db"
    index.parent.mkdir(parents=True, exist_ok=True)
    holder = sqlite3.connect(index, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE placeholder (x)")  # a file of another version, in the rollback journal: to be rebuilt
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO placeholder VALUES (1)")  # the other process, mid-write as the switch to WAL comes
    inode = index.stat().st_ino
    threading.Timer(0.5, lambda: holder.execute("COMMIT")).start()
    try:
        assert set(listing(capsys, root)) == {"t/one", "t/two"}
    finally:
        holder.close()
    assert index.stat().st_ino == inode  # the same file: waited for, not removed
    with sqlite3.connect(index) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == INDEX_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
