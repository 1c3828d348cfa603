"""The catalog as the screens draw it (one row per exercise with the learner's status), each
track's passed count and mean best (the catalog's track lines; mastery itself is lab/practice/mastery.py),
and the start-up cache of the last catalog drawn.

Standard library only: this module is imported before the first frame. The cache lets the first
frame show the catalog at once; the full load (validation, the store) follows in a worker and
replaces it, so a stale cache is only ever on screen for that moment.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from lab.settings import paths

CACHE_VERSION = 2  # 2: rows say whether the exercise is offline-capable


@dataclass(frozen=True)
class CatalogRow:
    id: str
    title: str
    track: str
    level: int
    skills: tuple[str, ...]
    status: str  # new | tried | passed
    best: float | None
    attempts: int = 0
    offline: bool = False  # a bundled exercise the built-in model can pass (lab/format/offline.py)


@dataclass
class Mastery:
    """How far the learner is in a group of exercises (a track or a skill)."""

    name: str
    exercises: int = 0
    passed: int = 0
    tried: int = 0
    best_total: float = 0.0

    @property
    def share_passed(self) -> float:
        return self.passed / self.exercises if self.exercises else 0.0

    @property
    def mean_best(self) -> float:
        """The mean best score, counting exercises never tried as 0."""
        return self.best_total / self.exercises if self.exercises else 0.0


def mastery(rows: Iterable[CatalogRow], groups_of: Callable[[CatalogRow], Iterable[str]]) -> list[Mastery]:
    found: dict[str, Mastery] = {}
    for row in rows:
        for name in groups_of(row):
            m = found.setdefault(name, Mastery(name))
            m.exercises += 1
            m.passed += row.status == "passed"
            m.tried += row.status != "new"
            m.best_total += row.best or 0.0
    return list(found.values())


def by_track(rows: Iterable[CatalogRow]) -> list[Mastery]:
    return mastery(rows, lambda r: [r.track])


# ---------------------------------------------------------------------- start-up cache


def cache_file() -> Path:
    return paths.catalog_cache_file()


def cache_key(exercise_dirs: Sequence[str]) -> list[str]:
    return [str(Path(d).expanduser()) for d in exercise_dirs] + [os.environ.get("LAB_EXERCISES", "")]


@dataclass(frozen=True)
class CachedCatalog:
    rows: list[CatalogRow]
    info: str


def load_cached(exercise_dirs: Sequence[str]) -> CachedCatalog | None:
    """The catalog drawn last time with the same exercise folders, or None."""
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
        if data.get("version") != CACHE_VERSION or data.get("key") != cache_key(exercise_dirs):
            return None
        rows = [CatalogRow(**{**r, "skills": tuple(r["skills"])}) for r in data["rows"]]
        return CachedCatalog(rows, str(data.get("info", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no cache, or an unreadable one: the full load draws the catalog


def save_cached(exercise_dirs: Sequence[str], rows: list[CatalogRow], info: str) -> None:
    data: dict[str, Any] = {"version": CACHE_VERSION, "key": cache_key(exercise_dirs), "rows": [asdict(r) for r in rows], "info": info}
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # only a start-up speed-up: never worth an error
