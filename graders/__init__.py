"""Prompt Lab's checks: pure functions in a registry, looked up by the name a trainer types.

Built-in checks live in this package; installed packages add their own through the entry-point
group `lab.graders` (an entry point names a module to import, whose `@register` calls run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graders.errors import JudgeCancelled, JudgeError

if TYPE_CHECKING:
    from graders.registry import Check, CheckContext, CheckResult, all_checks, get_check, register

__all__ = ["Check", "CheckContext", "CheckResult", "JudgeCancelled", "JudgeError", "all_checks", "get_check", "register"]

_FROM_REGISTRY = frozenset(__all__) - {"JudgeCancelled", "JudgeError"}


def __getattr__(name: str) -> Any:
    # The registry needs pydantic. `lab.errors` imports `graders.errors`, which runs this file, on
    # the TUI's start-up path: loading the registry on first use keeps that import light.
    if name in _FROM_REGISTRY:
        from graders import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'graders' has no attribute {name!r}")
