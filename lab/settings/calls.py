"""What a model call is made with, apart from its messages: the learner's (or trainer's) model and
endpoint, limits, and the exercise's call settings. Plain data, so settings can build it without
importing anything that talks to a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CallConfig:
    """Everything about a call but the messages. `params` are the exercise's call settings."""

    model: str
    api_base: str | None = None
    timeout: float = 60.0
    max_retries: int = 2
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    params: dict[str, Any] = field(default_factory=dict)
    # the response cache (lab.models.cache), for temperature-0 calls only: "use" answers a repeated request
    # from it, "refresh" asks the model again and keeps the new answer, "off" neither reads nor writes it
    cache: str = "off"


def provider_of(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else "openai"
