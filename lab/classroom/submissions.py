"""Submissions: what a learner hands in (`lab export`) and what a trainer grades (`lab grade`).

The line format is the trainers' contract (shared/trainer-workflow.md): JSON Lines of
`prompt-lab-submission/1`, or a CSV with the columns `learner,exercise,prompt`. Reading never
stops at a bad line: each one becomes an `InputProblem` naming its file and line, and the rest is read.

Files are read as a stream (`iter_submissions`), one line (or CSV row) at a time, so a class of any
size is read in constant memory, and no line is held whole past `MAX_LINE_BYTES`: a longer one is
skipped unread, named with its size. Names are checked as a person reads them (`name_problem`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Literal, Protocol, Sequence, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator

from lab.errors import LabError

FORMAT = "prompt-lab-submission/1"
CSV_COLUMNS = ("learner", "exercise", "prompt")
SUFFIXES = (".jsonl", ".csv")
Pick = Literal["last", "best"]

# Limits (docs/trainers.md, "Limits"). A line of `lab export` carries the learner's outputs too: a few
# cases and samples of long answers stay far below a megabyte; a prompt is a page or two of text.
MAX_LINE_BYTES = 1_000_000  # one .jsonl line, or one .csv row (its quoted line breaks included)
MAX_PROMPT_CHARS = 100_000  # the learner's text, as handed in
MAX_NAME_CHARS = 100  # a learner's name
MAX_EXERCISE_CHARS = 200  # an exercise id
MAX_HINTS = 1_000
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
LINE_BREAKS = frozenset("\u2028\u2029")  # Unicode's own line and paragraph separators


def normalise(value: Any) -> Any:
    """A name as it is kept: NFC (one way to write each accented letter), trimmed."""
    return unicodedata.normalize("NFC", value).strip() if isinstance(value, str) else value


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def name_problem(name: str, what: str = "learner's name", limit: int = MAX_NAME_CHARS) -> str | None:
    """Why `name` (already normalised) cannot name a learner or an exercise, in one sentence, or None.

    Control characters (NUL, line breaks, escapes) and bidirectional overrides are refused: in a
    terminal, the report or a certificate they hide text or make a name read as another."""
    for char in name:
        if char in BIDI_CONTROLS:
            return (f"the {what} holds a bidirectional control character ({_codepoint(char)}), which can make it display as "
                    "another name; remove it")
        if unicodedata.category(char) == "Cc" or char in LINE_BREAKS:
            return f"the {what} holds a control character ({_codepoint(char)}); use plain text on one line"
    if len(name) > limit:
        return f"the {what} is {len(name):,} characters long; at most {limit:,} are allowed"
    return None


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
    score: float | None = Field(default=None, allow_inf_nan=False)
    passed: bool | None = None
    hints_used: int = Field(default=0, ge=0, le=MAX_HINTS)
    outputs: dict[str, list[str]] = Field(default_factory=dict)
    # every text, by name, of an exercise whose learner writes several (`writes: [system, prompt]`, prefill, turns)
    texts: dict[str, str | list[str]] | None = None

    _normalise = field_validator("learner", "exercise", mode="before")(normalise)

    @field_serializer("created")
    def _iso(self, value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None  # "+00:00", as the contract writes it


class CsvRow(BaseModel):
    """One row of a trainer's CSV; columns other than these three are ignored."""

    model_config = ConfigDict(extra="ignore")

    learner: str = Field(min_length=1)
    exercise: str = Field(min_length=1)
    prompt: str

    _normalise = field_validator("learner", "exercise", mode="before")(normalise)


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
    """Every submission in the given files and folders, held in memory (`iter_submissions` streams them)."""
    result = ReadResult()
    for item in iter_submissions(targets, on_file=result.files.append):
        (result.submissions if isinstance(item, Submission) else result.problems).append(item)  # type: ignore[arg-type]
    return result


def iter_submissions(targets: Sequence[str | Path], on_file: Any = None) -> Iterator[Submission | InputProblem]:
    """Each submission and each problem of the given files and folders (folders are searched for .jsonl
    and .csv), in the order read; `on_file(path)` is told of each file opened."""
    for target in targets:
        path = Path(target).expanduser()
        if path.is_dir():
            found = sorted(p for p in _walk(path) if p.suffix.lower() in SUFFIXES)
            if not found:
                yield InputProblem(path, None, "this folder holds no .jsonl or .csv file; give the folder the submissions are in")
            for file in found:
                yield from _read_file(file, on_file)
        elif path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                yield InputProblem(path, None, "not a submission file: give a .jsonl file from `lab export` or a .csv with learner,exercise,prompt")
                continue
            yield from _read_file(path, on_file)
        elif path.exists():
            yield InputProblem(path, None, NOT_REGULAR)
        else:
            yield InputProblem(path, None, "no such file or folder; check the path")


def _walk(folder: Path) -> Iterable[Path]:
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith("."):
                yield Path(here) / name


NOT_REGULAR = "not a regular file (a device, a pipe or a socket); give the submission files themselves"


def _read_file(path: Path, on_file: Any) -> Iterator[Submission | InputProblem]:
    try:
        # opened without waiting and checked on the open file itself: a pipe would block the run for good on
        # open, and /dev/zero would be one endless line; a file swapped for one after a check is caught too
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        yield InputProblem(path, None, f"cannot be read ({exc.strerror}); check its permissions")
        return
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        yield InputProblem(path, None, NOT_REGULAR)
        return
    stream = os.fdopen(descriptor, "rb")
    with stream:
        if on_file is not None:
            on_file(path)
        lines = _lines(stream)
        try:
            yield from (_read_csv(path, lines) if path.suffix.lower() == ".csv" else _read_jsonl(path, lines))
        except OSError as exc:  # a file that fails half-way (a network drive gone, an I/O error)
            yield InputProblem(path, None, f"could not be read to the end ({exc.strerror}); the lines before were read")


def _too_long(size: int, what: str = "line") -> str:
    return (f"the {what} is {size:,} bytes, over the limit of {MAX_LINE_BYTES:,}; it was skipped unread "
            "(nothing of it is sent to a model)")


@dataclass(frozen=True)
class _Line:
    number: int
    raw: bytes | None  # None: longer than MAX_LINE_BYTES, skipped unread
    size: int


def _lines(stream: IO[bytes]) -> Iterator[_Line]:
    """The file's lines (split on \\n only: a JSON string may hold U+2028), each at most MAX_LINE_BYTES
    long; a longer one is read past in chunks and given without its bytes. The UTF-8 BOM is dropped."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            size = len(raw)
            quotes = raw.count(b'"')
            while not raw.endswith(b"\n"):
                raw = stream.readline(1 << 20)
                if not raw:
                    break
                size += len(raw)
                quotes += raw.count(b'"')
            yield _Oversized(number, None, size, quotes)
            continue
        yield _Line(number, raw, len(raw))


@dataclass(frozen=True)
class _Oversized(_Line):
    quotes: int = 0  # the double quotes it held: a CSV row's end depends on them


def _decode(line: _Line) -> str | None:
    try:
        return line.raw.decode("utf-8") if line.raw is not None else None
    except UnicodeDecodeError:
        return None


NOT_UTF8 = "this {what} is not UTF-8 text; save the file as UTF-8"


def _key_shown(part: Any) -> str:
    """A place in the line as the message shows it: a key the hand-in chose is escaped and cut short, so
    it cannot carry a line break, an escape sequence or a page of text into the message."""
    text = str(part)
    if text.isascii() and text.isprintable() and len(text) <= 40:
        return text
    shown = json.dumps(text)
    return shown if len(shown) <= 42 else shown[:40] + "…\""


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(map(_key_shown, error["loc"]))
    if error["type"] == "missing":
        return f"`{where}` is missing"
    if where == "format":
        return f"`format` must be \"{FORMAT}\" (a line written by `lab export`)"
    return f"`{where}`: {error['msg']}"


def _written(prompt: str, texts: dict[str, Any] | None) -> int:
    """How much the learner wrote: the prompt and every other text (a list of turns counted whole)."""
    others = (v for k, v in (texts or {}).items() if k != "prompt" or v != prompt)
    return len(prompt) + sum(sum(map(len, v)) if isinstance(v, list) else len(v) for v in others)


def _checked(path: Path, number: int, learner: str, exercise: str, prompt: str, texts: dict[str, Any] | None = None) -> InputProblem | None:
    """The problem with a line's learner, exercise or prompt (with its other texts), or None."""
    problem = name_problem(learner) or name_problem(exercise, "exercise id", MAX_EXERCISE_CHARS)
    size = _written(prompt, texts)
    if problem is None and size > MAX_PROMPT_CHARS:
        problem = (f"the prompt is {size:,} characters long, over the limit of {MAX_PROMPT_CHARS:,}; it was skipped "
                   "(nothing of it is sent to a model)")
    return InputProblem(path, number, problem) if problem else None


_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")  # a JSON escape of a surrogate half; checked further only when seen


def _encodes(data: Any) -> bool:
    """Whether every text in `data` is text UTF-8 can write (no lone surrogate)."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_jsonl(path: Path, lines: Iterator[_Line]) -> Iterator[Submission | InputProblem]:
    for line in lines:
        number = line.number
        if line.raw is None:
            yield InputProblem(path, number, _too_long(line.size))
            continue
        if not line.raw.strip():
            continue
        text = _decode(line)
        if text is None:
            yield InputProblem(path, number, NOT_UTF8.format(what="line"))
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield InputProblem(path, number, f"not valid JSON ({exc.msg} at column {exc.colno}); each line must be one JSON object")
            continue
        except (ValueError, RecursionError) as exc:  # a number of 5,000 digits, arrays nested thousands deep
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
            yield InputProblem(path, number, f"not valid JSON ({why}); each line must be one JSON object")
            continue
        if not isinstance(data, dict):
            yield InputProblem(path, number, "not a JSON object; each line must be one submission object")
            continue
        if _LONE_SURROGATE.search(text) and not _encodes(data):
            # `"\ud800"` is valid JSON but no text: cohort.db (UTF-8) could not keep it, and the run would stop there
            yield InputProblem(path, number, "holds a lone surrogate escape (such as \\ud800), which is no character; "
                               "export the submission again")
            continue
        if not normalise(data.get("learner")):
            yield InputProblem(path, number, "the learner has no name; set `learner` (the learner exports with --learner NAME)")
            continue
        try:
            parsed = SubmissionLine.model_validate(data)
        except ValidationError as exc:
            yield InputProblem(path, number, _first_error(exc))
            continue
        problem = _checked(path, number, parsed.learner, parsed.exercise, parsed.prompt, parsed.texts)
        if problem is not None:
            yield problem
            continue
        yield Submission(
            learner=parsed.learner, exercise=parsed.exercise, prompt=parsed.prompt, source=path, line=number,
            exercise_hash=parsed.exercise_hash, model=parsed.model, created=parsed.created.isoformat() if parsed.created else None,
            status=parsed.status, score=parsed.score, passed=parsed.passed, hints_used=parsed.hints_used, outputs=parsed.outputs,
            texts=parsed.texts or None,
        )


def _records(lines: Iterator[_Line]) -> Iterator[tuple[int, str | None, int]]:
    """CSV records: (first line, text, bytes), a quoted field's line breaks kept inside its record.

    A record ends at a line break outside a quoted field, read as Python's csv reads one: a quote opens a
    quoted field only where a field starts, `""` is one quote inside it, and a quote elsewhere (`5" margin`)
    is a character like any other. Text is None for a record over MAX_LINE_BYTES (skipped, never held) and for
    one that is not UTF-8 (size -1) or whose quoted field never closes (size UNCLOSED: the file ended inside it)."""
    start, parts, size, quoted, last = 0, [], 0, False, 0
    for line in lines:
        if not parts and not size:
            start = line.number
        last = line.number
        size += line.size
        if isinstance(line, _Oversized):  # not kept: its quotes are only counted
            quoted ^= line.quotes % 2 == 1
        else:
            quoted = _still_quoted(line.raw, quoted)  # type: ignore[arg-type]
        if size > MAX_LINE_BYTES:
            parts = []  # the rest of the record is read past, not kept
        elif line.raw is not None:
            parts.append(line.raw)
        if not quoted:
            yield _record(start, parts, size)
            parts, size = [], 0
    if parts or size:
        # the file ended inside a quoted field: every line after its opening quote was read into it; none of it is a row
        yield (start, None, UNCLOSED) if last > start and size <= MAX_LINE_BYTES else _record(start, parts, size)


UNCLOSED = -2
_QUOTE, _COMMA, _CR = ord('"'), ord(","), ord("\r")


def _still_quoted(raw: bytes, quoted: bool) -> bool:
    """Whether a quoted field is still open at the end of this line (`quoted`: open at its start)."""
    if not quoted and b'"' not in raw:
        return False
    field_start = not quoted  # a line outside a quoted field starts a record
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        if quoted:
            if byte == _QUOTE:
                if i + 1 < n and raw[i + 1] == _QUOTE:
                    i += 1  # `""`: one quote inside the field
                else:
                    quoted = False
        elif byte == _QUOTE and field_start:
            quoted, field_start = True, False
        else:
            field_start = byte in (_COMMA, _CR)  # a lone \r ends a row as a comma ends a field
        i += 1
    return quoted


def _record(start: int, parts: list[bytes], size: int) -> tuple[int, str | None, int]:
    if size > MAX_LINE_BYTES:
        return start, None, size
    try:
        return start, b"".join(parts).decode("utf-8"), size
    except UnicodeDecodeError:
        return start, None, -1


def _csv_rows(text: str, start: int) -> list[tuple[int, list[str]]]:
    """The rows of one record (usually one) with the line each starts on, counted in \\n as the file's
    lines are (a lone \\r ends a CSV row but not a line)."""
    pieces = list(io.StringIO(text, newline=""))  # as csv reads a file: split after \r, \n or \r\n
    pulled = [0]

    def feed() -> Iterator[str]:
        while pulled[0] < len(pieces):
            pulled[0] += 1
            yield pieces[pulled[0] - 1]

    reader = csv.reader(feed())
    rows = []
    while True:
        line = start + sum(piece.count("\n") for piece in pieces[:pulled[0]])
        try:
            rows.append((line, next(reader)))
        except StopIteration:
            return rows


def _read_csv(path: Path, lines: Iterator[_Line]) -> Iterator[Submission | InputProblem]:
    header: list[str] | None = None
    for start, text, size in _records(lines):
        if text is None:
            if size == UNCLOSED:
                why = ("a quoted field opened on this row never closes, so every line after it was read as part of it; "
                       "close the quote (a quote inside a field is written \"\") and grade again")
            else:
                why = NOT_UTF8.format(what="row") if size < 0 else _too_long(size, "row")
            yield InputProblem(path, start, why)
            if header is None:
                return
            continue
        try:
            rows = _csv_rows(text, start)
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                why = (f"a field is over {csv.field_size_limit():,} characters long; the row was skipped "
                       "(nothing of it is sent to a model)")
            else:
                why = f"cannot be read as a CSV row ({exc}); check its quotes"
            yield InputProblem(path, start, why)
            continue
        for number, values in rows:
            if header is None:
                header = [v.strip().lower() for v in values]
                missing = [c for c in CSV_COLUMNS if c not in header]
                if missing:
                    yield InputProblem(path, number, f"the header lacks {', '.join(missing)}; the first row must name the columns learner,exercise,prompt")
                    return
                continue
            if not any(v.strip() for v in values):
                continue
            row = dict(zip(header, values))
            if not normalise(row.get("learner")):
                yield InputProblem(path, number, "the learner has no name; fill in the `learner` column")
                continue
            try:
                parsed = CsvRow.model_validate({c: row.get(c, "") for c in CSV_COLUMNS})
            except ValidationError as exc:
                yield InputProblem(path, number, _first_error(exc))
                continue
            problem = _checked(path, number, parsed.learner, parsed.exercise, parsed.prompt)
            if problem is not None:
                yield problem
                continue
            yield Submission(parsed.learner, parsed.exercise, parsed.prompt, path, number)


# ---------------------------------------------------------------- picking


class Handed(Protocol):
    """What picking looks at in a submission (a `Submission`, or a row of cohort.db)."""

    created: str | None
    status: str | None
    score: float | None


H = TypeVar("H", bound=Handed)


def pick_one(items: Sequence[tuple[int, H]], how: Pick = "last") -> H:
    """Of one learner's submissions for one exercise, as (order read, submission), the one to grade.

    `last`: the newest (by `created`, else the order read). `best`: the one the learner's own grading
    scored highest (ties: the newest); the trainer re-grades it, so that score only chooses, never counts.
    Attempts whose call failed or was cancelled are chosen only when a learner has nothing else.
    """
    usable = [(o, s) for o, s in items if s.status in (None, "graded")] or list(items)

    def newest(item: tuple[int, H]) -> tuple[str, int]:
        return (item[1].created or "", item[0])

    if how == "best":
        return max(usable, key=lambda item: (item[1].score if item[1].score is not None else -1.0, *newest(item)))[1]
    return max(usable, key=newest)[1]


def pick(submissions: Iterable[Submission], how: Pick = "last") -> dict[tuple[str, str], Submission]:
    """The submission to grade for each (learner, exercise), all held in memory (`lab grade` picks
    from cohort.db a group at a time, by the same rule: `pick_one`)."""
    groups: dict[tuple[str, str], list[tuple[int, Submission]]] = {}
    for order, s in enumerate(submissions):
        groups.setdefault((s.learner, s.exercise), []).append((order, s))
    return {key: pick_one(items, how) for key, items in groups.items()}


# ---------------------------------------------------------------- exporting


NO_LEARNER = ("No learner name for the submissions: pass --learner NAME, set LAB_LEARNER, "
              "or add learner = \"NAME\" to {config}.")


def export_lines(store: Any, learner: str, exercises: Sequence[str] = (), track: str | None = None) -> list[SubmissionLine]:
    """The learner's finished attempts (oldest first) as submission lines, filtered by exercise ids and track."""
    from lab.practice.store import iter_outputs

    name = normalise(learner)
    if not name:
        raise LabError("The learner name is empty: pass --learner NAME with a name.")
    problem = name_problem(name)
    if problem:
        raise LabError(f"The learner name cannot be used: {problem}.")
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
