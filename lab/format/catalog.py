"""A persistent index of the catalogue: what `lab list`, the catalog and `lab progress` show.

Listing needs each exercise's front matter, not its rendered blocks, so the index keeps, per file,
the fields a listing shows and what the last full validation found. It can never serve stale data:
every command stats every exercise file (cheap next to parsing it), and a row is only used while
its stamp (mtime, ctime, size and inode) is the file's; a partial that a validated exercise
extends, includes or imports is tracked the same way, and a changed one voids that validation.
New and changed files have their front matter parsed only; full validation (compile, render every
block and parameter per case) runs when an exercise is opened or run, by `lab validate` and
`lab check`, and in the TUI's background, and is recorded here.

The index is a cache: SQLite in the cache folder, rebuilt silently when it is corrupt, from another
version of Prompt Lab, or cannot be written (then it lives in memory for the one command).
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import stat as stat_module
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from lab.errors import ExerciseError, LabError, Problem
from lab.format.curriculum import curriculum_order
from lab.format.listing import closest_ids
from lab.settings import paths, sqlite

INDEX_VERSION = 1  # bump when a row's meaning changes: an index of another version is rebuilt
_BUSY_MS = 10_000

_SCHEMA = """
CREATE TABLE files (
    path TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    stamp TEXT NOT NULL,
    summary TEXT,
    problems TEXT NOT NULL,
    validated INTEGER NOT NULL,
    deps TEXT NOT NULL
);
CREATE INDEX files_root ON files(root);
"""


@dataclass(frozen=True)
class IndexEntry:
    """One exercise as a listing shows it, and what is known of its validity."""

    id: str
    title: str
    track: str
    level: int
    skills: tuple[str, ...]
    lang: str
    writes: str
    file: str  # the file's real path as text; `path` makes the Path when asked (a listing never asks)
    root: Path
    problems: tuple[Problem, ...] = ()  # from the last full validation, when it still holds
    validated: bool = False  # a full validation of the file as it is now found `problems`

    @functools.cached_property
    def path(self) -> Path:
        # made on demand: a Path per entry was a sixth of a warm `lab list` over a thousand exercises
        return Path(self.file)

    @property
    def broken(self) -> bool:
        return bool(self.problems)


class UnloadableExercise(LabError):
    """An exercise of the catalogue that full validation found broken; holds its problems."""

    def __init__(self, exercise_id: str, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__(f"Exercise '{exercise_id}' could not be loaded:\n" + "\n".join(str(p) for p in problems))


CHECK_AT_MOST = 50  # `lab list` validates up to this many changed files of one's own folders (about 30 ms each)


@dataclass
class CatalogIndex:
    """Every exercise of the roots, in catalog order, with the problems known for each file."""

    entries: list[IndexEntry]
    problems: list[Problem]
    roots: list[Path]
    broken_files: list[Path] = field(default_factory=list)

    @property
    def exercises(self) -> list[IndexEntry]:
        """The entries that are not known to be broken (what a listing shows)."""
        return [e for e in self.entries if not e.broken]

    def tracks(self) -> list[str]:
        return sorted({e.track for e in self.entries})

    def entry(self, exercise_id: str) -> IndexEntry | None:
        return next((e for e in self.entries if e.id == exercise_id), None)

    def find(self, exercise_id: str) -> IndexEntry:
        """The entry for an id, or for a short id (its last parts, `delimiters`) naming one exercise only;
        else a LabError that lists the candidates or suggests close ids."""
        found = self.entry(exercise_id)
        if found is not None:
            return found
        short = exercise_id.strip("/")
        candidates = [e for e in self.entries if short and e.id.endswith("/" + short)]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            names = ", ".join(e.id for e in candidates)
            raise LabError(f"'{exercise_id}' names {len(candidates)} exercises ({names}): give the full id.")
        broken = [p for p in self.problems if _id_for(p.path, self.roots) == exercise_id]
        if broken:
            raise UnloadableExercise(exercise_id, broken)
        close = closest_ids(exercise_id, [e.id for e in self.entries])
        hint = f" Did you mean {', '.join(close)}?" if close else " `lab list` shows them all."
        raise LabError(f"No exercise '{exercise_id}'.{hint}")

    def mark_broken(self, entry: IndexEntry, problems: Sequence[Problem]) -> None:
        """Record in this listing what validation found (the index file already has it)."""
        self.entries = [replace(e, problems=tuple(problems), validated=True) if e.file == entry.file else e for e in self.entries]
        if entry.path not in self.broken_files:
            self.problems.extend(problems)
            self.broken_files.append(entry.path)

    def open(self, exercise_id: str) -> Any:
        """Fully load and validate one exercise (a `lab.format.exercise.Exercise`), recording the result."""
        return open_entry(self.find(exercise_id))

    def unchecked(self) -> list[IndexEntry]:
        """The listed exercises of the learner's or trainer's own folders that no full validation has seen as
        they are now (the bundled curriculum is validated before it ships)."""
        bundled = str(paths.bundled_exercises_dir().resolve())
        return [e for e in self.entries if not e.validated and not e.broken and str(e.root) != bundled]

    def check_unchecked(self, limit: int | None = None) -> int:
        """Fully validate the unchecked exercises (recording each outcome), so that a broken file leaves the listing
        and is counted as the lab counts it, when there are at most `limit` of them: the files edited since the
        last check. More (a course just copied in) are left to `lab validate` and the lab's background check;
        returns how many were left unchecked."""
        waiting = self.unchecked()
        if len(waiting) > (CHECK_AT_MOST if limit is None else limit):
            return len(waiting)
        for entry in waiting:
            try:
                open_entry(entry)
            except UnloadableExercise as exc:
                self.mark_broken(entry, exc.problems)
            except LabError:
                continue
        return 0


# ---------------------------------------------------------------- building


def load_index(extra_roots: Sequence[str | Path] = (), *,
               before_write: Callable[[CatalogIndex], None] | None = None) -> CatalogIndex:
    """The catalogue of every root, from the index where files are unchanged, parsed where not.
    `before_write` is given the catalogue before the index is written (the TUI's first-start builder
    hands it to the lab at once)."""
    from lab.format.listing import exercise_roots, search_stats

    roots = exercise_roots(extra_roots)
    found: list[tuple[str, str, str]] = []  # (root, real path, stamp), strings: a thousand Paths cost a listing's time
    problems: list[Problem] = []
    for root in roots:
        if not root.is_dir():
            if root != paths.bundled_exercises_dir().resolve():
                problems.append(Problem(root, None, "exercise folder not found", "check the path given to --exercises or LAB_EXERCISES"))
            continue
        files, unsearchable = search_stats(root)  # a symlink loop or unreadable folder is one problem, never a traceback
        problems.extend(unsearchable)
        top = str(root)
        found += [(top, f.real, _stamp(f.stat)) for f in files]  # the search's own stat: one per file

    with _Index.open() as index:
        rows = index.rows([str(r) for r in roots])
        fresh: list[tuple[str, str, str]] = []
        voided: list[str] = []
        dep_stamps: dict[str, str] = {}
        for root, path, stamp in found:
            row = rows.get(path)
            if row is None or row.stamp != stamp or row.root != root:
                fresh.append((root, path, stamp))
            elif row.validated and not _deps_hold(row.deps, dep_stamps):
                voided.append(path)
        parsed = [_parse(root, path, stamp) for root, path, stamp in fresh]
        present = {path for _, path, _ in found}
        gone = [p for p in rows if p not in present]
        # the rows as the write leaves them, without reading them back
        rows.update((row.path, row) for row in parsed)
        for path in voided:
            if rows[path].summary is not None:
                rows[path] = replace(rows[path], validated=False, problems=[], deps={})
        known = dict.fromkeys(path for _, path, _ in found)  # each real path once, in search order
        catalog = _catalog(roots, [rows[p] for p in known if p in rows], problems)
        if before_write is not None:
            before_write(catalog)
        if parsed or voided or gone:
            index.write(parsed, voided, gone)
    return catalog


def open_entry(entry: IndexEntry) -> Any:
    """Fully load `entry`'s file, record what validation found, and return the Exercise (or raise LabError)."""
    from lab.format.loader import load_exercise

    stamp = stamp_of(entry.path)  # taken before reading: a change while reading shows as a new stamp next time
    try:
        exercise = load_exercise(entry.path, entry.root)
    except ExerciseError as exc:
        record_validation(entry.root, entry.path, stamp, None, exc.problems)
        raise UnloadableExercise(entry.id, exc.problems) from None
    record_validation(entry.root, entry.path, stamp, exercise, [])
    return exercise


def record_validation(root: Path, path: Path, stamp: str, exercise: Any, problems: Sequence[Problem]) -> None:
    """Store the outcome of a full validation of `path` (as it was at `stamp`) with the partials it used."""
    row = _validated_row(root, path, stamp, exercise, problems)
    try:
        with _Index.open() as index:
            index.write([row], [], [])
    except sqlite3.Error:
        pass  # the index is a cache: a validation that cannot be recorded is simply run again


def record_catalog(catalog: Any) -> None:
    """Record every outcome of `lab validate` / `lab check` (a `lab.format.loader.Catalog`) in one transaction."""
    rows: list[_Row] = []
    for exercise in catalog.exercises:
        rows.append(_validated_row(exercise.root, exercise.path, stamp_of(exercise.path), exercise, []))
    for path in catalog.broken_files:
        path = _real(path)
        root = _root_of(path, catalog.roots)
        if root is not None:
            rows.append(_validated_row(root, path, stamp_of(path), None, catalog.file_problems.get(path, [])))
    if not rows:
        return
    try:
        with _Index.open() as index:
            index.write(rows, [], [])
    except sqlite3.Error:
        pass


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))  # Path.resolve() raises on a symlink loop


def stamp_of(path: Path) -> str:
    """What identifies a version of a file without reading it; 'missing' when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return _stamp(st)


def _stamp(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_size}:{st.st_ino}"


# ---------------------------------------------------------------- rows


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is four times slower, over a thousand rows per command
class _Row:
    path: str
    root: str
    stamp: str
    summary: dict[str, Any] | None
    problems: list[dict[str, Any]]
    validated: bool
    deps: dict[str, str]

    def as_params(self) -> tuple[Any, ...]:
        return (self.path, self.root, self.stamp, None if self.summary is None else json.dumps(self.summary, ensure_ascii=False),
                json.dumps(self.problems, ensure_ascii=False), int(self.validated), json.dumps(self.deps))


def _summary(meta: Any, exercise_id: str) -> dict[str, Any]:
    return {"id": exercise_id, "title": meta.title, "track": meta.track or "general", "level": meta.level,
            "skills": list(meta.skills), "lang": meta.lang, "writes": "+".join(meta.writes) if isinstance(meta.writes, list) else meta.writes}


def _parse(root: str, path: str, stamp: str) -> _Row:
    """Front matter only; a file whose front matter does not validate is loaded fully for exact problems."""
    from lab.format.listing import read_listing

    listing = read_listing(path, root)
    if listing is not None:
        return _Row(path, root, stamp, listing, [], False, {})
    from lab.format.loader import load_exercise  # the full load only for a file whose front matter does not look right

    root, path = Path(root), Path(path)
    try:
        exercise = load_exercise(path, root)
    except ExerciseError as exc:
        return _validated_row(root, path, stamp, None, exc.problems)
    return _validated_row(root, path, stamp, exercise, [])


def _validated_row(root: Path, path: Path, stamp: str, exercise: Any, problems: Sequence[Problem]) -> _Row:
    from lab.format.listing import read_listing
    from lab.format.templating import template_dependencies

    root, path = _real(root), _real(path)
    summary = _summary(exercise.meta, exercise.id) if exercise is not None else read_listing(path, root)
    try:
        plain = stat_module.S_ISREG(os.stat(path).st_mode)  # never read a pipe: it would block
        deps = template_dependencies(root, path.relative_to(root).as_posix()) if plain else {}
    except (OSError, ValueError):
        deps = {}
    deps = {p: stamp_of(Path(p)) if s is None else s for p, s in deps.items() if p != str(path)}
    if not problems and exercise is None:
        problems = [Problem(path, None, "the file could not be loaded", "run `lab validate` on it")]
    return _Row(str(path), str(root), stamp, summary, [p.as_json() for p in problems], True, deps)


def _deps_hold(deps: dict[str, str], seen: dict[str, str]) -> bool:
    """Whether every partial recorded with a validation is still the same file (stats shared across rows)."""
    for dep, stamp in deps.items():
        now = seen.get(dep)
        if now is None:
            now = seen[dep] = stamp_of(Path(dep))
        if now != stamp:
            return False
    return True


def _catalog(roots: list[Path], rows: list[_Row], problems: list[Problem]) -> CatalogIndex:
    entries: dict[str, IndexEntry] = {}
    claims: dict[str, list[str]] = {}
    broken: list[Path] = []
    root_paths: dict[str, Path] = {}
    for row in rows:
        row_problems = tuple(Problem.from_json(p) for p in row.problems) if row.problems else ()
        problems.extend(row_problems)
        s = row.summary
        if s is None:
            broken.append(Path(row.path))
            continue
        root = root_paths.get(row.root)
        if root is None:
            root = root_paths[row.root] = Path(row.root)
        entry = IndexEntry(s["id"], s["title"], s["track"], int(s["level"]), tuple(s["skills"]), s["lang"], s["writes"],
                           row.path, root, row_problems, row.validated)
        if row_problems:
            broken.append(entry.path)
        claims.setdefault(entry.id, []).append(row.path)
        entries.setdefault(entry.id, entry)
    from lab.format.listing import claimed

    problems.extend(claimed(i, files, Path(files[1])) for i, files in claims.items() if len(files) > 1)
    ordered = sorted(entries.values(), key=lambda e: curriculum_order(e.track, e.level, e.id))
    return CatalogIndex(ordered, problems, roots, broken)


def _id_for(path: Path, roots: Iterable[Path]) -> str | None:
    for root in roots:
        try:
            return _real(path).relative_to(root).with_suffix("").as_posix()
        except ValueError:
            continue
    return None


def _root_of(path: Path, roots: Iterable[Path]) -> Path | None:
    for root in roots:
        root = _real(root)
        if root in path.parents:
            return root
    return None


# ---------------------------------------------------------------- storage


class _Index:
    """The SQLite file, opened for one command: created or rebuilt inside one transaction."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    @classmethod
    def open(cls) -> "_Index":
        path = paths.cache_dir() / "catalog-index.db"
        for attempt in range(2):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(path, timeout=_BUSY_MS / 1000, isolation_level=None)
            except (OSError, sqlite3.Error):
                break
            try:
                cls._prepare(db)
                return cls(db)
            except sqlite3.DatabaseError as exc:
                db.close()
                if sqlite.busy(exc):
                    break  # another process holds it past the busy timeout: never removed under it, indexed in memory
                if attempt == 0:
                    _remove(path)  # corrupt (or not SQLite at all): it is a cache, build it again
        db = sqlite3.connect(":memory:", isolation_level=None)  # an unwritable cache folder: index for this command only
        cls._prepare(db)
        return cls(db)

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> None:
        db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
        sqlite.rebuild_cache(db, INDEX_VERSION, _SCHEMA, tables=["files"])
        db.execute("SELECT count(*) FROM files").fetchone()  # proves the file is readable

    def __enter__(self) -> "_Index":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.db.close()

    def rows(self, roots: list[str]) -> dict[str, _Row]:
        marks = ",".join("?" * len(roots))
        result = {}
        for path, root, stamp, summary, problems, validated, deps in self.db.execute(
                f"SELECT path, root, stamp, summary, problems, validated, deps FROM files WHERE root IN ({marks})", roots):
            try:
                result[path] = _Row(path, root, stamp, None if summary is None else json.loads(summary),
                                    [] if problems == "[]" else json.loads(problems), bool(validated),
                                    {} if deps == "{}" else json.loads(deps))  # most rows: nothing to decode
            except ValueError:
                continue  # an unreadable row is treated as a file never indexed
        return result

    def write(self, rows: list[_Row], voided: list[str], gone: list[str]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", [r.as_params() for r in rows])
            self.db.executemany("UPDATE files SET validated = 0, problems = '[]', deps = '{}' WHERE path = ? AND summary IS NOT NULL",
                                [(p,) for p in voided])
            self.db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in gone])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            Path(f"{path}{suffix}").unlink()
        except OSError:
            pass
