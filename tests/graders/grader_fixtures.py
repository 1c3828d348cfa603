"""Fixtures shared by the grader tests (imported by name: a conftest.py here would shadow the root one): a scripted in-process judge and a judge over the fake provider."""

from __future__ import annotations

from typing import Any

import pytest

from lab.models import llm
from lab.practice.judging import ModelJudge


class ScriptedJudge:
    """A Judge that answers from a list, in order, and keeps what it was asked (unit tests only)."""

    def __init__(self, *answers: str, schema: bool = False, model: str = "scripted-judge"):
        self.answers = list(answers)
        self.schema = schema
        self.model = model
        self.asked: list[dict[str, Any]] = []

    def ask(self, messages: list[dict[str, str]], *, response_schema: dict[str, Any] | None = None) -> str:
        self.asked.append({"messages": messages, "schema": response_schema})
        if not self.answers:
            raise AssertionError("the judge was asked more often than the test scripted")
        return self.answers.pop(0)

    def supports_schema(self) -> bool:
        return self.schema


@pytest.fixture
def scripted_judge() -> type[ScriptedJudge]:
    return ScriptedJudge


@pytest.fixture
def model_judge(api_base: str):
    """A factory for a ModelJudge on the fake provider (no retries, no backoff)."""

    def make(model: str = "openai/judge-strict", structured: bool = False) -> ModelJudge:
        return ModelJudge(llm.CallConfig(model, api_base, timeout=10, max_retries=0, backoff=0), structured=structured)

    return make
