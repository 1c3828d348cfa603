"""Short texts the screens share: status marks, scores, times, usage."""

from __future__ import annotations

from typing import Any

MARKS = {"passed": "✓", "tried": "•", "new": "·"}


def status_mark(status: str) -> str:
    return MARKS.get(status, "?")


def score_text(score: float | None, passed: bool | None = None, pass_mark: float = 1.0) -> str:
    """A score to two decimals; given whether it passed, as `score_label` words it in the CLI too: a score
    short of its pass mark never reads as the pass mark (0.849 of 0.85 is 0.84, not 0.85)."""
    if score is None:
        return ""
    if passed is None:
        return f"{score:.2f}"
    from lab.practice.report import score_label

    return score_label(score, passed, pass_mark)


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
