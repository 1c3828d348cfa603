"""The model behind `judge`-style checks: a thin `Judge` over `lab.llm` that keeps every exchange."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

from lab import llm


@dataclass
class JudgeUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class ModelJudge:
    """Answers grading requests with a model at temperature 0 and records each exchange."""

    config: llm.CallConfig
    cancel: threading.Event | None = None
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    usage: JudgeUsage = field(default_factory=JudgeUsage)

    def ask(self, messages: list[dict[str, str]], *, response_schema: dict[str, Any] | None = None) -> str:
        params: dict[str, Any] = {"temperature": 0}
        if response_schema is not None:
            params["response_format"] = {"type": "json_schema", "json_schema": {"name": "grade", "schema": response_schema, "strict": True}}
        config = replace(self.config, params={**self.config.params, **params})
        completion = llm.complete(messages, config, cancel=self.cancel)
        self.usage.prompt_tokens += completion.prompt_tokens
        self.usage.completion_tokens += completion.completion_tokens
        self.usage.cost_usd += completion.cost_usd
        self.exchanges.append({"model": config.model, "messages": messages, "answer": completion.text})
        return completion.text

    def supports_schema(self) -> bool:
        return llm.supports_response_schema(self.config.model)
