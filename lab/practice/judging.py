"""The model behind `judge`-style checks: a thin `Judge` over `lab.models.llm` that keeps every exchange."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

from lab.models import llm, local


@dataclass
class JudgeUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


JUDGE_MAX_TOKENS = 2048
"""The most a judge may write per answer (docs/graders.md, "judge"): ten times the few sentences and the grade it is
asked for, and room for a reasoning model's thinking; a small model that rambles is cut off here, its answer then
unusable (asked once more, then ungraded), instead of running to the end of its context."""
BUILTIN_JUDGE_MAX_TOKENS = 512  # the built-in model thinks nothing unseen, and its rambling runs at a few dozen tokens a second


def judge_params(response_schema: dict[str, Any] | None, model: str | None = None) -> dict[str, Any]:
    """The call settings of every judge call: temperature 0, the answer capped, and the JSON schema when the judge takes one."""
    cap = BUILTIN_JUDGE_MAX_TOKENS if local.is_builtin(model) else JUDGE_MAX_TOKENS
    params: dict[str, Any] = {"temperature": 0, "max_tokens": cap}
    if response_schema is not None:
        params["response_format"] = {"type": "json_schema", "json_schema": {"name": "grade", "schema": response_schema, "strict": True}}
    return params


@dataclass
class ModelJudge:
    """Answers grading requests with a model at temperature 0 and records each exchange."""

    config: llm.CallConfig
    cancel: threading.Event | None = None
    structured: bool | None = None  # JSON-schema answers: None asks litellm whether the model has them
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    usage: JudgeUsage = field(default_factory=JudgeUsage)
    calls: int = 0  # questions asked, and of them answered from the response cache
    cached_calls: int = 0

    def ask(self, messages: list[dict[str, str]], *, response_schema: dict[str, Any] | None = None) -> str:
        config = replace(self.config, params={**self.config.params, **judge_params(response_schema, self.config.model)})
        completion = llm.complete(messages, config, cancel=self.cancel)
        self.calls += 1
        self.cached_calls += completion.cached
        self.usage.prompt_tokens += completion.prompt_tokens
        self.usage.completion_tokens += completion.completion_tokens
        self.usage.cost_usd += completion.cost_usd
        self.exchanges.append({"model": config.model, "messages": messages, "answer": completion.text})
        return completion.text

    @property
    def model(self) -> str:
        return self.config.model

    def supports_schema(self) -> bool:
        if self.structured is None:
            self.structured = llm.supports_response_schema(self.config.model)
        return self.structured


def stored_exchanges(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every judge exchange kept in a stored attempt result, labelled with its criterion, case and sample.

    Checks keep a consultation under `details["judge"]`: one dict, or a list of dicts for checks that ask
    about several outputs at once (each then names its own case and sample).
    """
    found = []
    for criterion in (result or {}).get("criteria", []):
        for r in criterion.get("results", []):
            judged = (r.get("details") or {}).get("judge")
            consultations = judged if isinstance(judged, list) else [judged] if isinstance(judged, dict) else []
            for c in consultations:
                for number, exchange in enumerate(c.get("exchanges", []), 1):
                    found.append({
                        "criterion": criterion.get("id"), "case": c.get("case", r.get("case")), "sample": c.get("sample", r.get("sample", 0)),
                        "model": c.get("model"), "route": c.get("route"), "try": number,
                        "messages": exchange.get("messages", []), "answer": exchange.get("answer", ""), "problem": c.get("problem"),
                    })
    return found
