"""What a check may receive from a judge call. The engine's own errors derive from these, so a
check (or a trainer's plug-in) imports `graders` alone and never the engine."""

from __future__ import annotations


class JudgeError(Exception):
    """A judge call failed; the message is one plain sentence a learner can read."""


class JudgeCancelled(Exception):
    """The learner cancelled the run while a judge was being asked: a check lets it through."""
