"""Checks on the model's tool calls (format v1, "Tools"): which tools it called, with what, how often, in what order.

They read `ctx.calls` (every call of the case's conversation, in order, answered or not), not the output text.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import field_validator

from graders._regex import RegexTimeout
from graders.registry import CheckContext, CheckResult, Params, register


class ToolCalledParams(Params):
    name: str
    arguments: dict[str, Any] | None = None  # a JSON Schema the call's arguments must fit
    times: int | None = None

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty: name the tool")
        return value

    @field_validator("arguments")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from graders.structured import schema_problem

        problem = schema_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"is not a valid JSON Schema: {problem}")
        return value

    @field_validator("times")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("must be 1 or more (to require that a tool is never called, write `not: true`)")
        return value


def _shown(args: Any) -> str:
    return json.dumps(args, ensure_ascii=False) if args is not None else "(not JSON)"


@register("tool-called", ToolCalledParams)
def tool_called(output: str, p: ToolCalledParams, ctx: CheckContext) -> CheckResult:
    """Passes when the model called tool `name` (with arguments fitting the JSON Schema `arguments`; exactly `times` times when given)."""
    from graders.structured import schema_violation

    t = ctx.tr
    named = [args for name, args in ctx.calls if name == p.name]
    if not named:
        made = ", ".join(dict.fromkeys(name for name, _ in ctx.calls))
        if made:
            return CheckResult.fail(t.gettext("The model never called {tool}; it called {made}.").format(tool=p.name, made=made))
        return CheckResult.fail(t.gettext("The model never called {tool}: it called no tool at all.").format(tool=p.name))
    fitting = named
    first_problem = None
    if p.arguments is not None:
        fitting = []
        for args in named:
            try:
                found = schema_violation(p.arguments, args) if args is not None else ("$", "the arguments are not JSON")
            except RegexTimeout:
                return CheckResult.not_graded(t.gettext("A pattern of this criterion's `arguments` took too long on a call, so it "
                                                        "was not graded (the exercise's author should simplify the pattern)."))
            if found is None:
                fitting.append(args)
            elif first_problem is None:
                path, problem = found
                first_problem = (args, problem if path == "$" else f"{path.removeprefix('$.')}: {problem}")
        if not fitting:
            args, problem = first_problem  # type: ignore[misc]
            return CheckResult.fail(t.ngettext(
                "The model called {tool} {n} time, but not with the expected arguments: {arguments} ({problem}).",
                "The model called {tool} {n} times, but never with the expected arguments; the first: {arguments} ({problem}).",
                len(named)).format(tool=p.name, n=len(named), arguments=_shown(args), problem=problem))
    if p.times is not None and len(fitting) != p.times:
        said = t.ngettext("The model called {tool} {n} time", "The model called {tool} {n} times", len(fitting)).format(
            tool=p.name, n=len(fitting))
        wanted = t.ngettext("{said}; it should call it exactly {times} time.", "{said}; it should call it exactly {times} times.",
                            p.times).format(said=said, times=p.times)
        return CheckResult.fail(wanted, score=min(len(fitting), p.times) / max(len(fitting), p.times))
    return CheckResult.ok(t.ngettext("The model called {tool} {n} time, with {arguments}.",
                                     "The model called {tool} {n} times; the first with {arguments}.", len(fitting)).format(
        tool=p.name, n=len(fitting), arguments=_shown(fitting[0])))


class ToolSequenceParams(Params):
    names: list[str]

    @field_validator("names")
    @classmethod
    def _some(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one tool name")
        return value


@register("tool-sequence", ToolSequenceParams)
def tool_sequence(output: str, p: ToolSequenceParams, ctx: CheckContext) -> CheckResult:
    """Passes when the model called the tools `names` in this order (other calls may come between)."""
    t = ctx.tr
    made = [name for name, _ in ctx.calls]
    position = 0
    for name in made:
        if position < len(p.names) and name == p.names[position]:
            position += 1
    order = " → ".join(p.names)
    if position == len(p.names):
        return CheckResult.ok(t.gettext("The model called {order} in this order.").format(order=order))
    said = " → ".join(made) if made else t.gettext("no tool")
    return CheckResult.fail(t.gettext("The model should call {order} in this order; it called {made}, and {missing} is missing "
                                      "after the calls before it.").format(order=order, made=said, missing=p.names[position]),
                            score=position / len(p.names))
