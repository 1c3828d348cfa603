"""Errors the engine raises; each carries a message written for the person who can fix it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.errors import JudgeCancelled, JudgeError


# what may not reach a terminal from a file: C0 controls but tab and line feed (a carriage return rewrites the
# line it is on), DEL and the C1 controls (the exercise format's loader and its fast listing refuse the same)
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown(text: str) -> str:
    """Text as a terminal may print it in a message: control characters as escapes (`\\x1b`), the rest as it is
    (a name or word from a file or a command line must not drive the terminal)."""
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii") for c in text)


class LabError(Exception):
    """Base of every error Prompt Lab reports to a person instead of a traceback."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an exercise file: where, what, and how to fix it."""

    path: Path
    line: int | None
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        text = f"{where}: {self.message}"
        return f"{text}\n  fix: {self.fix}" if self.fix else text

    def as_json(self) -> dict[str, Any]:
        """The problem as the JSON of `lab validate --json` and the catalogue index."""
        return {"path": str(self.path), "line": self.line, "message": self.message, "fix": self.fix}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Problem":
        return cls(Path(data["path"]), data["line"], data["message"], data["fix"])


class ExerciseError(LabError):
    """An exercise file that cannot be loaded; holds every problem found in it."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class PromptError(LabError):
    """The learner's text cannot be used as it stands (empty, or a template error)."""


class ModelError(LabError, JudgeError):
    """A model call failed; `kind` is a stable tag, the message one plain sentence.

    `sent` is False when the request never reached a model (no key, a name litellm cannot route, no
    server at the address): such an attempt was not a try, and is kept as `not_sent`."""

    def __init__(self, message: str, kind: str = "error", status: int | None = None, sent: bool = True):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.sent = sent


class CancelledError(LabError, JudgeCancelled):
    """The learner cancelled a run in flight."""

    def __init__(self, message: str = "The run was cancelled."):
        super().__init__(message)
