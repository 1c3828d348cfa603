"""Submissions: what a learner hands in (`lab export`) and what a trainer grades (`lab grade`).

The line format is the trainers' contract (shared/trainer-workflow.md): JSON Lines of
`prompt-lab-submission/1`, or a CSV with the columns `learner,exercise,prompt`. Reading never
stops at a bad line: each one becomes a `InputProblem` naming its file and line, and the rest is read.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator

from lab.errors import LabError

FORMAT = "prompt-lab-submission/1"
CSV_COLUMNS = ("learner", "exercise", "prompt")
SUFFIXES = (".jsonl", ".csv")
Pick = Literal["last", "best"]


def _name(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class SubmissionLine(BaseModel):
    """One line of `lab export`. Unknown fields are ignored: a newer Prompt Lab may add some."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["prompt-lab-submission/1"]
    learner: str = Field(min_length=1)
    exercise: str = Field(min_length=1)
    exercise_hash: str | None = None
    prompt: str
    model: str | None = None
    created: datetime | None = None
    status: str | None = None
    score: float | None = None
    passed: bool | None = None
    hints_used: int = Field(default=0, ge=0)
    outputs: dict[str, list[str]] = Field(default_factory=dict)
    # every text, by name, of an exercise whose learner writes several (`writes: [system, prompt]`, prefill, turns)
    texts: dict[str, str | list[str]] | None = None

    _strip = field_validator("learner", "exercise", mode="before")(_name)

    @field_serializer("created")
    def _iso(self, value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None  # "+00:00", as the contract writes it


class CsvRow(BaseModel):
    """One row of a trainer's CSV; columns other than these three are ignored."""

    model_config = ConfigDict(extra="ignore")

    learner: str = Field(min_length=1)
    exercise: str = Field(min_length=1)
    prompt: str

    _strip = field_validator("learner", "exercise", mode="before")(_name)


@dataclass(frozen=True)
class Submission:
    """A submission as read, with where it came from (file and line) for every message about it."""

    learner: str
    exercise: str
    prompt: str
    source: Path
    line: int
    exercise_hash: str | None = None
    model: str | None = None
    created: str | None = None  # ISO 8601, as handed in
    status: str | None = None
    score: float | None = None
    passed: bool | None = None
    hints_used: int = 0
    outputs: dict[str, list[str]] = field(default_factory=dict)
    texts: dict[str, Any] | None = None  # several texts by name; `prompt` is the main one

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def learner_texts(self) -> str | dict[str, Any]:
        """What the learner wrote, as `run_attempt` and `build_messages` take it."""
        return dict(self.texts) if self.texts else self.prompt

    @property
    def key(self) -> str:
        """Identity of the submission's content (not of where it was read): the same line read twice is one submission."""
        data: list[Any] = [self.learner, self.exercise, self.prompt, self.exercise_hash, self.model, self.created, self.status,
                           self.score, self.passed, self.hints_used]
        if self.texts:  # only then: a submission of one text keeps the key it always had
            data.append(self.texts)
        return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class InputProblem:
    """A file or line that cannot be used: where, and what to change."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclass
class ReadResult:
    submissions: list[Submission] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


# ---------------------------------------------------------------- reading


def read_submissions(targets: Sequence[str | Path]) -> ReadResult:
    """Every submission in the given files and folders (folders are searched for .jsonl and .csv)."""
    result = ReadResult()
    for target in targets:
        path = Path(target).expanduser()
        if path.is_dir():
            found = sorted(p for p in _walk(path) if p.suffix.lower() in SUFFIXES)
            if not found:
                result.problems.append(InputProblem(path, None, "this folder holds no .jsonl or .csv file; give the folder the submissions are in"))
            for file in found:
                _read_file(file, result)
        elif path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                result.problems.append(InputProblem(path, None, "not a submission file: give a .jsonl file from `lab export` or a .csv with learner,exercise,prompt"))
                continue
            _read_file(path, result)
        else:
            result.problems.append(InputProblem(path, None, "no such file or folder; check the path"))
    return result


def _walk(folder: Path) -> Iterable[Path]:
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith("."):
                yield Path(here) / name


def _read_file(path: Path, result: ReadResult) -> None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        result.problems.append(InputProblem(path, None, f"cannot be read ({exc.strerror}); check its permissions"))
        return
    except UnicodeDecodeError:
        result.problems.append(InputProblem(path, None, "is not UTF-8 text; save it as UTF-8"))
        return
    result.files.append(path)
    if path.suffix.lower() == ".csv":
        _read_csv(path, text, result)
    else:
        _read_jsonl(path, text, result)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    if error["type"] == "missing":
        return f"`{where}` is missing"
    if where == "format":
        return f"`format` must be \"{FORMAT}\" (a line written by `lab export`)"
    return f"`{where}`: {error['msg']}"


def _read_jsonl(path: Path, text: str, result: ReadResult) -> None:
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            result.problems.append(InputProblem(path, number, f"not valid JSON ({exc.msg} at column {exc.colno}); each line must be one JSON object"))
            continue
        if not isinstance(data, dict):
            result.problems.append(InputProblem(path, number, "not a JSON object; each line must be one submission object"))
            continue
        if not _name(data.get("learner")):
            result.problems.append(InputProblem(path, number, "the learner has no name; set `learner` (the learner exports with --learner NAME)"))
            continue
        try:
            line = SubmissionLine.model_validate(data)
        except ValidationError as exc:
            result.problems.append(InputProblem(path, number, _first_error(exc)))
            continue
        result.submissions.append(Submission(
            learner=line.learner, exercise=line.exercise, prompt=line.prompt, source=path, line=number,
            exercise_hash=line.exercise_hash, model=line.model, created=line.created.isoformat() if line.created else None,
            status=line.status, score=line.score, passed=line.passed, hints_used=line.hints_used, outputs=line.outputs,
            texts=line.texts or None,
        ))


def _read_csv(path: Path, text: str, result: ReadResult) -> None:
    reader = csv.DictReader(text.splitlines(keepends=True))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        result.problems.append(InputProblem(path, 1, f"the header lacks {', '.join(missing)}; the first row must name the columns learner,exercise,prompt"))
        return
    reader.fieldnames = header
    line = 1
    for row in reader:
        number = line + 1
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        if not _name(row.get("learner")):
            result.problems.append(InputProblem(path, number, "the learner has no name; fill in the `learner` column"))
            continue
        try:
            parsed = CsvRow.model_validate({k: ("" if v is None else v) for k, v in row.items() if k in CSV_COLUMNS})
        except ValidationError as exc:
            result.problems.append(InputProblem(path, number, _first_error(exc)))
            continue
        result.submissions.append(Submission(parsed.learner, parsed.exercise, parsed.prompt, path, number))


# ---------------------------------------------------------------- picking


def pick(submissions: Iterable[Submission], how: Pick = "last") -> dict[tuple[str, str], Submission]:
    """The submission to grade for each (learner, exercise).

    `last`: the newest (by `created`, else the order read). `best`: the one the learner's own grading
    scored highest (ties: the newest); the trainer re-grades it, so that score only chooses, never counts.
    Attempts whose call failed or was cancelled are chosen only when a learner has nothing else.
    """
    groups: dict[tuple[str, str], list[tuple[int, Submission]]] = {}
    for order, s in enumerate(submissions):
        groups.setdefault((s.learner, s.exercise), []).append((order, s))
    chosen = {}
    for key, items in groups.items():
        usable = [(o, s) for o, s in items if s.status in (None, "graded")] or items

        def newest(item: tuple[int, Submission]) -> tuple[str, int]:
            return (item[1].created or "", item[0])

        if how == "best":
            best = max(usable, key=lambda item: (item[1].score if item[1].score is not None else -1.0, *newest(item)))
        else:
            best = max(usable, key=newest)
        chosen[key] = best[1]
    return chosen


# ---------------------------------------------------------------- exporting


NO_LEARNER = ("No learner name for the submissions: pass --learner NAME, set LAB_LEARNER, "
              "or add learner = \"NAME\" to {config}.")


def export_lines(store: Any, learner: str, exercises: Sequence[str] = (), track: str | None = None) -> list[SubmissionLine]:
    """The learner's finished attempts (oldest first) as submission lines, filtered by exercise ids and track."""
    from lab.practice.store import iter_outputs

    name = learner.strip()
    if not name:
        raise LabError("The learner name is empty: pass --learner NAME with a name.")
    wanted = set(exercises)
    lines = []
    for record in reversed(store.attempts()):
        if record.status == "running":
            continue
        if wanted and record.exercise_id not in wanted:
            continue
        if track and record.track != track:
            continue
        lines.append(SubmissionLine(
            format=FORMAT, learner=name, exercise=record.exercise_id, exercise_hash=record.exercise_hash,
            prompt=record.prompt, model=record.model, created=datetime.fromisoformat(record.started_at),
            status=record.status, score=record.score, passed=record.passed, hints_used=record.hints_used,
            outputs=dict(iter_outputs(record.result)), texts=record.texts,
        ))
    return lines


def line_json(line: SubmissionLine) -> str:
    data = line.model_dump(mode="json")
    if data.get("texts") is None:
        data.pop("texts", None)  # only an attempt at several texts carries them (the contract's shape)
    return json.dumps(data, ensure_ascii=False)
