"""Prompt Lab's checks: pure functions in a registry, looked up by the name a trainer types.

Built-in checks live in this package; installed packages add their own through the entry-point
group `lab.graders` (an entry point names a module to import, whose `@register` calls run).
"""

from graders.errors import JudgeCancelled, JudgeError
from graders.registry import (
    Check,
    CheckContext,
    CheckResult,
    all_checks,
    get_check,
    register,
)

__all__ = ["Check", "CheckContext", "CheckResult", "JudgeCancelled", "JudgeError", "all_checks", "get_check", "register"]
