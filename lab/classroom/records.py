"""The rows of a cohort's database as the rest of the class reads them: a graded result, a recorded
model call, a trainer's review. Plain data, so the store, the overrides and the report share them
without importing one another."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Sequence


def task_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class RecordedCall:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duration_s: float
    tool_calls: tuple[tuple[str, str, str], ...] = ()  # the answer's calls to tools: (id, name, arguments as JSON text)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> "RecordedCall":
        """From the columns RECORDED_CALL_COLUMNS names, in their order."""
        text, prompt_tokens, completion_tokens, cost_usd, duration_s, calls = row
        return cls(text, prompt_tokens, completion_tokens, cost_usd, duration_s,
                   tuple((str(i), str(n), str(a)) for i, n, a in json.loads(calls)) if calls else ())


# the columns of `calls` (and `arena_calls`) a RecordedCall holds, in its order
RECORDED_CALL_COLUMNS = "text, prompt_tokens, completion_tokens, cost_usd, duration_s, tool_calls"


def tool_calls_json(calls: Sequence[Sequence[str]]) -> str | None:
    """An answer's calls to tools as a `tool_calls` column keeps them (NULL for an answer in words only)."""
    return json.dumps([list(c) for c in calls], ensure_ascii=False) if calls else None


# the columns of `results` a ResultRow holds, in its order (`r.` is the results table in every query)
RESULT_COLUMNS = ("r.id, r.learner, r.exercise, r.task, r.submission, r.prompt, r.exercise_hash, r.track, r.skills, r.model, "
                  "r.judge_model, r.status, r.error, r.score, r.passed, r.result, r.prompt_tokens, r.completion_tokens, r.cost_usd, "
                  "r.duration_s, r.graded_at, r.texts")


@dataclass(frozen=True)
class ResultRow:
    id: int
    learner: str
    exercise: str
    task: str
    submission: str
    prompt: str
    exercise_hash: str
    track: str
    skills: tuple[str, ...]
    model: str
    judge_model: str | None
    status: str
    error: str | None
    score: float | None
    passed: bool | None
    result: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duration_s: float | None
    graded_at: str | None
    overridden: tuple[str, ...] = ()  # criteria whose verdict a trainer's review replaced (lab/classroom/overrides.py)
    texts: dict[str, Any] | None = None  # every text of a learner who writes several; `prompt` is the main one
    handed_in_hash: str | None = None  # the exercise version the learner practised on (their submission's)
    hints_used: int = 0  # hints the learner had revealed (their submission's)
    fingerprint: str | None = None  # the submission's, once graded (lab/classroom/likeness.py)

    @property
    def learner_texts(self) -> str | dict[str, Any]:
        """What the learner wrote, as `build_messages` takes it."""
        return dict(self.texts) if self.texts else self.prompt

    @property
    def all_text(self) -> str:
        """Every text the learner wrote, one after the other (to compare two learners' work)."""
        if not self.texts:
            return self.prompt
        return "\n\n".join("\n\n".join(v) if isinstance(v, list) else str(v) for v in self.texts.values())

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...], *, with_result: bool = True) -> "ResultRow":
        """A row of RESULT_COLUMNS, optionally followed by the submission's exercise_hash, hints_used and fingerprint.
        `with_result=False` leaves the stored result JSON unparsed (None), for readers that need none of it."""
        values = tuple(row)
        skills = tuple(json.loads(values[8] or "[]"))
        passed = None if values[14] is None else bool(values[14])
        result = json.loads(values[15]) if with_result and values[15] else None
        texts = json.loads(values[21]) if values[21] else None
        extra = values[22:25]
        return cls(*values[:8], skills, *values[9:14], passed, result, *values[16:21],  # type: ignore[arg-type]
                   texts=texts, handed_in_hash=extra[0] if extra else None, hints_used=int(extra[1] or 0) if len(extra) > 1 else 0,
                   fingerprint=extra[2] if len(extra) > 2 else None)

    @property
    def version_mismatch(self) -> bool:
        """Handed in against another version of the exercise than the one graded."""
        return bool(self.handed_in_hash) and self.handed_in_hash != self.exercise_hash


@dataclass(frozen=True)
class Review:
    """A trainer's decision on one judged output: `case` is `*` for a check over all outputs at once.
    Scores are on the criterion's scale (`pass-fail` 0/1, `1-5`, `0-10`)."""

    result_id: int
    criterion: str
    case: str
    sample: int
    scale: str
    judge_passed: bool | None
    judge_score: float | None
    decision: str  # 'confirm' | 'override' | 'skip'
    trainer_passed: bool | None
    trainer_score: float | None
    note: str | None
    reviewer: str
    at: str

    @property
    def key(self) -> tuple[int, str, str, int]:
        return (self.result_id, self.criterion, self.case, self.sample)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Review":
        def flag(value: Any) -> bool | None:
            return None if value is None else bool(value)

        return cls(row["result_id"], row["criterion"], row["case_name"], row["sample"], row["scale"], flag(row["judge_passed"]),
                   row["judge_score"], row["decision"], flag(row["trainer_passed"]), row["trainer_score"], row["note"],
                   row["reviewer"], row["at"])


DECISIONS = ("confirm", "override", "skip")
