"""Prompt Lab's checks: pure functions in a registry, looked up by the name a trainer types.

Built-in checks live in this package; installed packages add their own through the entry-point
group `lab.graders` (an entry point names a module to import, whose `@register` calls run).

The names below are loaded on first use: `graders.errors` is imported by the engine's start-up
path, which must not pay for pydantic and the registry before the first frame.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Check": "graders.registry", "CheckContext": "graders.registry", "CheckResult": "graders.registry",
    "all_checks": "graders.registry", "get_check": "graders.registry", "register": "graders.registry",
    "JudgeCancelled": "graders.errors", "JudgeError": "graders.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'graders' has no attribute {name!r}")
    return getattr(import_module(module), name)
