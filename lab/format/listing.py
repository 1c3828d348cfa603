"""Finding exercise files and reading what a catalogue shows of each (id, title, track, level, skills),
without the validating loader: no pydantic, no Jinja, so `lab list` and the lab's first frame stay
quick on a cold start. `lab.format.loader` loads and validates a file fully.
"""

from __future__ import annotations

import errno
import os
import stat as stat_module
from pathlib import Path
from typing import Any, NamedTuple, Sequence

from lab.errors import CONTROL_CHARACTERS, Problem
from lab.settings import paths


def exercise_roots(extra: Sequence[str | Path] = ()) -> list[Path]:
    """Roots in priority order: `--exercises`, `LAB_EXERCISES`, the user's folder, the bundled curriculum."""
    roots: list[Path] = [Path(p).expanduser() for p in extra]
    roots += [Path(p).expanduser() for p in os.environ.get("LAB_EXERCISES", "").split(os.pathsep) if p.strip()]
    user = paths.user_exercises_dir()
    if user.is_dir():
        roots.append(user)
    roots.append(paths.bundled_exercises_dir())
    unique: list[Path] = []
    for root in roots:
        resolved = Path(os.path.realpath(root))  # Path.resolve() raises on a symlink loop
        if resolved not in unique:
            unique.append(resolved)
    return unique


def search(root: Path, within: Path | None = None) -> tuple[list[Path], list[Problem]]:
    """The exercise files under `root`, and one problem for each path that cannot be searched or read
    as a file (a symlink loop, a dangling link, a folder named `x.j2`, an unreadable folder, a link
    that leaves the exercise folder `within`, by default `root` itself).

    Symlinked folders are followed, but each real folder once: a link back to an ancestor is a loop."""
    found, problems = search_stats(root, within)
    return [Path(f.path) for f in found], problems


class Found(NamedTuple):
    """One exercise file as `search_stats` found it: its path under the root, its real path, and its stat."""

    path: str
    real: str
    stat: os.stat_result


def search_stats(root: Path, within: Path | None = None) -> tuple[list[Found], list[Problem]]:
    """`search`, with each file's real path and the one stat taken of it (a catalogue's stamp), sorted by path.

    One pass of os.scandir: a file costs one stat (the folder entry says whether it is a link), and a
    folder's real path is its parent's plus its name unless it is a link, so realpath runs for links only.
    A link is followed only while it stays inside the exercise folder (`within`, by default `root`): a
    shared pack's link to `/etc/passwd` or to someone's home is a problem, never read."""
    found: list[Found] = []
    problems: list[Problem] = []
    seen: set[tuple[int, int]] = set()  # (device, inode) of each real folder searched
    top = str(root)
    fence = os.path.realpath(within if within is not None else root)
    stack: list[tuple[str, str | None]] = [(top, None)]  # (folder, its real path when known without realpath)
    while stack:  # depth first, each folder's subfolders in sorted order: the order os.walk(topdown) reports in
        folder, real = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as error:
            problems.append(Problem(Path(error.filename or root), None, f"cannot read the folder: {error.strerror}",
                                    "check its permissions, or move it out of the exercise folder"))
            continue
        try:
            status = os.stat(folder)
        except OSError:
            continue
        if (status.st_dev, status.st_ino) in seen:  # a second link to a folder searched already
            continue
        seen.add((status.st_dev, status.st_ino))
        if real is None:
            real = os.path.realpath(folder)
        dirs: list[os.DirEntry[str]] = []
        files: list[os.DirEntry[str]] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows a link; a dangling or looping one is not a folder
            except OSError:
                is_dir = False
            (dirs if is_dir else files).append(entry)
        kept: list[tuple[str, str | None]] = []
        for entry in sorted(dirs, key=_name):
            name = entry.name
            if name.startswith("."):
                continue
            child = entry.path
            linked = entry.is_symlink()
            if linked and not reachable(Path(child), problems):
                continue
            target = os.path.realpath(child) if linked else os.path.join(real, name)
            if linked and not inside(target, fence):
                problems.append(points_outside(Path(child), target))
                continue
            if linked and _is_ancestor(target, real):
                problems.append(Problem(Path(child), None, f"symlink loop: this link leads back to {target}, a folder that contains it; it is skipped",
                                        "remove the link, or point it outside the exercise folder"))
                continue
            if name.endswith(".j2") and not name.startswith("_"):
                problems.append(Problem(Path(child), None, "a folder named like an exercise file: only files ending in .j2 are exercises",
                                        "rename the folder (its .j2 files inside are still found)"))
            kept.append((child, None if linked else target))
        stack.extend(reversed(kept))
        for entry in sorted(files, key=_name):
            name = entry.name
            path = entry.path
            if not name.endswith(".j2") or name.startswith("_"):
                if entry.is_symlink() and not os.path.exists(path) and _loops(Path(path)):
                    reachable(Path(path), problems)  # a link looping on itself (a folder's, most likely): one problem
                continue
            try:
                status = os.stat(path)
            except OSError:
                reachable(Path(path), problems)  # says why: a loop, a dangling link, a file gone meanwhile
                continue
            linked = entry.is_symlink()
            target = os.path.realpath(path) if linked else os.path.join(real, name)
            if linked and not inside(target, fence):
                problems.append(points_outside(Path(path), target))
                continue
            if not stat_module.S_ISREG(status.st_mode):
                problems.append(_not_plain(Path(path)))
                continue
            found.append(Found(path, target, status))
    found.sort(key=_path_parts)
    return found, problems


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _path_parts(found: Found) -> list[str]:
    return found.path.split(os.sep)  # Path ordering: part by part, so "a/b" sorts before "a-b/c"


MAX_FILE_BYTES = 1024 * 1024  # far beyond a real exercise; what a catalogue can afford to read per file


def regular_file(path: Path, problems: list[Problem]) -> bool:
    """Whether `path` is a plain file; a pipe, socket or device would block or never end when read."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return True  # reachable() reported it
    if stat_module.S_ISREG(mode):
        return True
    problems.append(_not_plain(path))
    return False


def _not_plain(path: Path) -> Problem:
    return Problem(path, None, "not a plain file (a named pipe, socket or device): it cannot be read as an exercise",
                   "remove it from the exercise folder")


def reachable(path: Path, problems: list[Problem]) -> bool:
    """Whether a link (or plain path) can be followed; a problem for a loop or a dangling link."""
    try:
        os.stat(path)
        return True
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            problems.append(Problem(path, None, "symlink loop: following this link leads back to itself",
                                    "remove the link, or point it at a real file or folder"))
        elif os.path.islink(path):
            problems.append(Problem(path, None, f"the link points at {os.readlink(path)}, which does not exist",
                                    "remove the link, or point it at a real file or folder"))
        elif exc.errno == errno.ENOENT:
            problems.append(Problem(path, None, "no such file or folder", "check the path"))
        else:
            problems.append(Problem(path, None, f"cannot read: {exc.strerror}", "check its permissions"))
        return False


def _loops(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def inside(real: str, folder: str) -> bool:
    """Whether the real path `real` is `folder` or below it (both real paths)."""
    return _is_ancestor(folder, real)


def points_outside(path: Path, target: str) -> Problem:
    return Problem(path, None, f"this link points outside the exercise folder (to {target}); it is not read",
                   "copy what it points at into the exercise folder, or give that folder as a root of its own with --exercises")


def claimed(exercise_id: str, files: Sequence[str | Path], at: Path) -> Problem:
    """One problem for an id that several files claim, naming them all; the first is the one used."""
    named = ", ".join([f"{files[0]} (used)"] + [f"{f} (ignored)" for f in files[1:]])
    return Problem(at, None, f"id '{exercise_id}' is claimed by {len(files)} files: {named}",
                   "give all but one another `id:` or file name (a file of an earlier exercise folder takes over a bundled "
                   "exercise of the same id: remove it if that is not what you meant)")


def _is_ancestor(candidate: str, of: str) -> bool:
    return of == candidate or of.startswith(candidate.rstrip(os.sep) + os.sep)


LISTING_KEYS = frozenset({"format", "id", "title", "track", "level", "skills", "lang", "writes"})


def _front_keys(path: str | Path, keys: frozenset[str]) -> dict[str, Any] | None:
    """The top-level `keys` of a file's front matter, read quickly; None when the file or its front matter
    does not look right (the full load says why)."""
    try:
        status = os.stat(path)
        if not stat_module.S_ISREG(status.st_mode) or status.st_size > MAX_FILE_BYTES:
            return None  # a pipe would block the read; a huge file is refused by the full load
        with open(path, "rb") as file:
            text = file.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    head, fence, rest = text.partition("\n")
    if head.rstrip() != "---":
        return None
    end = rest.find("\n---")  # the closing fence; split_front_matter is exact, this only needs to be fast
    front = rest[: end + 1] if end >= 0 else None
    if rest.startswith("---"):
        front = ""
    from lab.format import yamlkeys  # imported here: the lab asks this module for its roots, never for front matter

    return yamlkeys.load_keys(front, keys) if front is not None else None


def read_arena(path: str | Path) -> str | None:
    """The `arena` a file joins, from its front matter's top-level key alone (None: none, or unreadable)."""
    data = _front_keys(path, frozenset({"arena"}))
    arena = (data or {}).get("arena")
    return arena if isinstance(arena, str) else None


def read_listing(path: str | Path, root: str | Path) -> dict[str, Any] | None:
    """What a catalogue shows of one file (id, title, track, level, skills, lang, writes), read from the
    front matter's top-level keys alone, without validating the rest; None when those do not look
    right, and `load_exercise` must say why."""
    data = _front_keys(path, LISTING_KEYS)
    if data is None or data.get("format") != 1:
        return None
    rel_name = _relative(str(path), str(root))
    parts = rel_name.split("/")
    writes = data.get("writes", "prompt")
    if isinstance(writes, list) and writes and all(isinstance(w, str) for w in writes):
        data["writes"] = "+".join(writes)  # several texts: `system+prompt`, as lab.format.exercise.writes_label says it
    listing = {
        "id": data.get("id", rel_name.removesuffix(".j2")), "title": data.get("title"),
        "track": data.get("track", parts[0] if len(parts) > 1 else "general"), "level": data.get("level"),
        "skills": data.get("skills", []), "lang": data.get("lang", "en"), "writes": data.get("writes", "prompt"),
    }
    texts = [listing[k] for k in ("id", "title", "track", "lang", "writes")]
    if not all(isinstance(t, str) and t for t in texts) or type(listing["level"]) is not int or not 1 <= listing["level"] <= 5:
        return None
    if not isinstance(listing["skills"], list) or not all(isinstance(k, str) and k and k == "".join(k.split()) for k in listing["skills"]):
        return None
    if any(_has_control(t) for t in (*texts, *listing["skills"])):  # an escape would reach the terminal: the loader names it
        return None
    return listing


def _has_control(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def _relative(path: str, root: str) -> str:
    """`path` below `root`, with forward slashes: string work, as Path objects cost a cold listing a tenth
    of its time."""
    top = root.rstrip(os.sep) + os.sep
    if not path.startswith(top):
        return Path(path).relative_to(root).as_posix()  # not below it: the ValueError callers expect
    rel = path[len(top):]
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def closest_ids(given: str, ids: Sequence[str], n: int = 3) -> list[str]:
    """The ids closest to a mistyped one, whether it was typed whole (`prompt-engineering/delimeters`) or
    short (`delimeters`): each id is scored by the better of its whole and its last part's likeness, and
    only those near the best score are named (a shared track name alone makes no match)."""
    import difflib  # only for a mistyped id: kept off every listing's path

    given = given.strip().strip("/")
    if not given:
        return []
    short = given.rpartition("/")[2]
    track = given.rpartition("/")[0]
    scored = []
    for exercise_id in ids:
        its_track, _, its_short = exercise_id.rpartition("/")
        name_score = difflib.SequenceMatcher(None, short, its_short).ratio()
        if track:  # a track typed too counts a quarter: the name is what people misspell least in full
            name_score = 0.75 * name_score + 0.25 * difflib.SequenceMatcher(None, track, its_track).ratio()
        scored.append((name_score, exercise_id))
    scored.sort(key=lambda pair: -pair[0])
    if not scored or scored[0][0] < 0.7:
        return []
    best = scored[0][0]
    return [exercise_id for score, exercise_id in scored[:n] if score >= best - 0.08]
