"""Where each track sits on the documented path through the curriculum (docs/curriculum.md)."""

from __future__ import annotations


# The documented path (docs/curriculum.md): prompt engineering first, then the tracks that build on it;
# a trainer's own tracks follow, alphabetically.
TRACK_ORDER = ("prompt-engineering", "ethical-alignment", "adversarial", "data-storytelling", "human-in-the-loop", "agents")


def curriculum_order(track: str, level: int, exercise_id: str) -> tuple[int, str, int, str]:
    """Sort key of an exercise in every listing: the documented track order, then level, then id."""
    rank = TRACK_ORDER.index(track) if track in TRACK_ORDER else len(TRACK_ORDER)
    return (rank, track, level, exercise_id)
