"""The check registry and the types every check shares."""

from __future__ import annotations

import difflib
import gettext
import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol

from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

BUILTIN_MODULES = (
    "graders.text", "graders.structured",
    "graders.judge", "graders.refusal", "graders.leak", "graders.consistent", "graders.similar", "graders.tools",
)
ENTRY_POINT_GROUP = "lab.graders"


@dataclass(frozen=True)
class CheckResult:
    """What a check says of one output: a score in [0,1], a verdict, and a reason a learner can act on.

    `ungraded` means the check could not decide (no judge, an unusable judge answer): it is never
    counted as a pass. `details` holds anything worth keeping with the attempt (a judge exchange).
    """

    score: float
    passed: bool
    reason: str
    ungraded: bool = False
    details: dict[str, Any] | None = None

    @classmethod
    def ok(cls, reason: str, **details: Any) -> "CheckResult":
        return cls(1.0, True, reason, details=details or None)

    @classmethod
    def fail(cls, reason: str, score: float = 0.0, **details: Any) -> "CheckResult":
        return cls(max(0.0, min(1.0, score)), False, reason, details=details or None)

    @classmethod
    def not_graded(cls, reason: str, **details: Any) -> "CheckResult":
        return cls(0.0, False, reason, ungraded=True, details=details or None)

    @classmethod
    def scored(cls, score: float, reason: str, **details: Any) -> "CheckResult":
        score = max(0.0, min(1.0, score))
        return cls(score, score >= 1.0, reason, details=details or None)


class Judge(Protocol):
    """A model that answers a grading request; built by the engine, handed to checks that use one."""

    def ask(self, messages: list[dict[str, str]], *, response_schema: dict[str, Any] | None = None) -> str:
        """The judge's answer; raises `graders.errors.JudgeError` when the call fails and
        `JudgeCancelled` when the learner cancelled."""
        ...

    def supports_schema(self) -> bool:
        """Whether `ask` may pass a JSON schema (litellm `response_format`); else checks use a final-line format."""
        ...


@dataclass(frozen=True)
class CheckContext:
    """What a check may know beyond the output: which case and sample, a judge if one is available,
    the learner's own text as sent for this case (rendered), when the engine has it, the model's tool calls
    (`calls`, for the tool checks), and `tr`, the
    translations for the exercise's language: a reason is written with `ctx.tr.gettext` /
    `ctx.tr.ngettext` (English source strings, `{name}` placeholders filled after translation)."""

    case: str | None = None
    sample: int = 0
    judge: Judge | None = None
    case_vars: dict[str, Any] = field(default_factory=dict)
    attempt: str | None = None
    tr: gettext.NullTranslations = field(default_factory=gettext.NullTranslations)
    # the model's tool calls for this output, in order: (tool name, arguments as data or None when not JSON)
    calls: tuple[tuple[str, Any], ...] = ()


class Params(BaseModel):
    """Base for a check's parameters: unknown keys are an error in the exercise file."""

    # each check's schema is built when an exercise first uses it, not when the registry loads: the lab
    # validates a catalogue with a few of the checks, and building them all took 15 ms of each start
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    def case_problems(self, case_names: list[str]) -> list[str]:
        """Problems with case names the parameters refer to, found at load time (none by default)."""
        return []


Scope = Literal["output", "group"]


@dataclass(frozen=True)
class Check:
    """A registered check. `output` checks see one output; `group` checks see every case's outputs."""

    name: str
    fn: Callable[..., CheckResult]
    params: type[BaseModel]
    scope: Scope = "output"
    uses_model: Literal["never", "always", "optional"] = "never"
    summary: str = ""


_registry: dict[str, Check] = {}
_loaded = False


def register(
    name: str,
    params: type[BaseModel] = Params,
    *,
    scope: Scope = "output",
    uses_model: Literal["never", "always", "optional"] = "never",
) -> Callable[[Callable[..., CheckResult]], Callable[..., CheckResult]]:
    """Register `fn(output, params, ctx) -> CheckResult` (or `fn(outputs_by_case, params, ctx)` for groups)."""

    def decorate(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        _registry[name] = Check(name, fn, params, scope, uses_model, summary)
        return fn

    return decorate


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    _load_entry_points()


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()
        except Exception as exc:  # a broken plug-in must not take the built-in checks down with it
            log.warning("could not load check plug-in %s (%s): %s", entry.name, entry.value, exc)


def all_checks() -> dict[str, Check]:
    _load()
    return dict(_registry)


def get_check(name: str) -> Check:
    _load()
    try:
        return _registry[name]
    except KeyError:
        close = difflib.get_close_matches(name, _registry, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise KeyError(f"unknown check '{name}'.{hint} Known checks: {', '.join(sorted(_registry))}.") from None
