"""Which bundled exercises can be practised with no key and no server: the catalogue's offline mark.

An exercise is offline-capable when its model solution passes on the built-in model (`local/smollm2`)
without a judge, or when no model is needed at all (an answer graded by checks alone). A judge of 135M
parameters is not one to trust, so an exercise whose grade rests on a judge is never marked, whatever its
verdict. `tools/offline_check.py` decides it by running `lab check --solution --model local/smollm2` on every
bundled exercise and writes the verdicts, with each exercise's content hash, to `exercises/_offline.json`;
`tests/test_offline_list.py` fails as soon as an exercise changes without the list being written again.

Only the bundled curriculum is marked: an exercise of another folder has not been checked, even under a
bundled exercise's id. Standard library only, as a listing is read before anything heavy is imported.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Callable

from lab.settings import paths

LIST_NAME = "_offline.json"
MARK = "⌂"  # beside an offline-capable exercise's level, in `lab list` and the lab's catalogue


def list_path() -> Path:
    return paths.bundled_exercises_dir() / LIST_NAME


@functools.lru_cache(maxsize=4)
def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):  # no list (a trimmed install): nothing is marked
        return {}
    return data if isinstance(data, dict) else {}


def verdicts() -> dict[str, dict[str, Any]]:
    """Each bundled exercise's recorded check on the built-in model, by id."""
    found = _read(str(list_path())).get("exercises")
    return found if isinstance(found, dict) else {}


def offline_ids() -> frozenset[str]:
    return _marked(str(list_path()))


@functools.lru_cache(maxsize=4)
def _marked(path: str) -> frozenset[str]:
    found = _read(path).get("exercises")
    return frozenset(i for i, v in found.items() if isinstance(v, dict) and v.get("offline") is True) if isinstance(found, dict) else frozenset()


@functools.lru_cache(maxsize=16)
def _real(path: str) -> str:
    return os.path.realpath(path)


def offline_marker() -> Callable[[str, Path | str], bool]:
    """`is_offline` for a whole listing: the bundled folder found and the list read once, not per exercise
    (per exercise, they were most of a warm `lab list` over 1,000)."""
    bundled = paths.bundled_exercises_dir()
    marked = _marked(str(list_path()))
    bundled_real = _real(str(bundled))

    def is_marked(exercise_id: str, root: Path | str) -> bool:
        return exercise_id in marked and _real(str(root)) == bundled_real

    return is_marked


def is_offline(exercise_id: str, root: Path | str) -> bool:
    """Whether the exercise `exercise_id`, found under `root`, is a bundled one marked offline-capable."""
    return offline_marker()(exercise_id, root)
