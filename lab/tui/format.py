"""Short texts the screens share: status marks, scores, times, usage."""

from __future__ import annotations

from typing import Any

MARKS = {"passed": "✓", "tried": "•", "new": "·"}


def status_mark(status: str) -> str:
    return MARKS.get(status, "?")


def score_text(score: float | None) -> str:
    return "" if score is None else f"{score:.2f}"


def when_text(iso: str | None) -> str:
    """A stored UTC timestamp in the learner's local time, to the minute."""
    if not iso:
        return ""
    from datetime import datetime  # only the history screens need it; kept off the first frame

    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def usage_text(result: dict[str, Any], duration_s: float | None = None, tr: Any = None) -> str:
    """Tokens, cost and time; `tr` (a gettext translator) for an exercise's language, English without."""
    usage = result.get("usage") or {}
    seconds = result.get("duration_s") if duration_s is None else duration_s
    tokens = "{prompt} prompt + {completion} completion tokens"
    if tr is not None:
        tokens = tr.gettext("{prompt} prompt + {completion} completion tokens")
    parts = [tokens.format(prompt=usage.get("prompt_tokens", 0), completion=usage.get("completion_tokens", 0)),
             f"${float(usage.get('cost_usd') or 0):.4f}"]
    if seconds is not None:
        parts.append(f"{float(seconds):.1f} s")
    return " · ".join(parts)


def bar(share: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, share)) * width)
    return "█" * filled + "░" * (width - filled)
