"""The rows of a cohort's database as the rest of the class reads them: a graded result, a recorded
model call, a trainer's review. Plain data, so the store, the overrides and the report share them
without importing one another."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any


def task_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class RecordedCall:
    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duration_s: float


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
    def from_row(cls, row: sqlite3.Row) -> "ResultRow":
        data = dict(row)
        data["texts"] = json.loads(data["texts"]) if data.get("texts") else None
        data["skills"] = tuple(json.loads(data["skills"] or "[]"))
        data["passed"] = None if data["passed"] is None else bool(data["passed"])
        data["result"] = json.loads(data["result"]) if data["result"] else None
        return cls(**data)


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
