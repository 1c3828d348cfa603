"""Full validation of the catalogue in a process of its own, for the TUI's background check.

In a thread of the lab's process that work held the GIL for seconds on a course of a thousand
exercises, so every keystroke in the catalog's filter and every exercise opened meanwhile waited
its turn. A second process runs on another core, at a lower priority, records each outcome in the
index as `lab validate` does, and tells the lab one line per broken exercise (JSON), as it finds it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Sequence

from lab.errors import Problem

CHILD = "import sys; from lab.format.validation import main; sys.exit(main(sys.argv[1:]))"


@dataclass(frozen=True)
class BrokenExercise:
    """What the background check found wrong with one exercise file."""

    path: Path
    problems: tuple[Problem, ...]


def start(exercise_dirs: Sequence[str]) -> subprocess.Popen[str]:
    """The validating process for these roots (the lab's environment, so the same index); raises OSError."""
    return subprocess.Popen([sys.executable, "-c", CHILD, *exercise_dirs], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8")


def findings(stream: IO[str]) -> Iterator[BrokenExercise]:
    """The broken exercises a validating process reports, as it reports them, until it ends."""
    for line in stream:
        try:
            found = json.loads(line)
            problems = tuple(Problem.from_json(p) for p in found["problems"])
            yield BrokenExercise(Path(found["path"]), problems)
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short when the process was killed


def main(exercise_dirs: list[str]) -> int:
    """In the child: validate every listed exercise the index has not, printing each broken one."""
    from lab.format.catalog import UnloadableExercise, load_index, open_entry

    try:
        os.nice(10)  # background work: the learner's own process comes first on a busy machine
    except (AttributeError, OSError):
        pass
    for entry in load_index(exercise_dirs).exercises:
        if entry.validated:
            continue
        try:
            open_entry(entry)
        except UnloadableExercise as exc:
            problems = [p.as_json() for p in exc.problems]
            print(json.dumps({"path": entry.file, "problems": problems}, ensure_ascii=False), flush=True)
        except Exception:  # a bug in one file's load must not hide the others' problems
            continue
    return 0
