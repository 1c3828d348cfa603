"""Tools (format v1, "Tools"): the functions an exercise lets the model call, each call, and the lab's answer.

The lab plays the tools' runtime. A call whose arguments break the tool's `parameters` (or are not JSON, or
name no tool) is answered with the validation error, as a real runtime would answer it, and the model may try
again. Any other call is answered with the tool's `result`: a template of the exercise, rendered in the
exercise's sandbox (lab/format/sandbox.py's bounds) with the case's variables, the call's `args` and `attempt`
(the learner's text, already placed by the learner's own rules). A result never runs code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

from jinja2.exceptions import TemplateError

from lab.format.exercise import Tool

ERROR_PREFIX = "error: "  # how a tool answers a call it could not take (the model reads it, as from a real runtime)


@dataclass(frozen=True)
class ToolCall:
    """One call the model made: its id (the API's, sent back with the result), the tool's name and its
    arguments as the model wrote them (JSON text)."""

    id: str
    name: str
    arguments: str = "{}"

    @property
    def args(self) -> Any:
        """The arguments as data, or None when they are not JSON."""
        try:
            return json.loads(self.arguments) if self.arguments.strip() else {}
        except (ValueError, RecursionError):  # a model (steered by a learner) may nest `[` past Python's stack
            return None

    def shown(self) -> str:
        """The call in one line: `name {"key": "value"}` (the arguments as compact JSON where they parse)."""
        args = self.args
        text = json.dumps(args, ensure_ascii=False) if args is not None else self.arguments
        return f"{self.name} {text}"

    def api(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ToolCall":
        arguments = data.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
        return cls(str(data.get("id") or ""), str(data.get("name") or ""), arguments)


@dataclass(frozen=True)
class ToolAnswer:
    content: str
    error: bool = False  # the call could not be taken (unknown tool, arguments that are not JSON or break the schema)


def tool_specs(tools: Sequence[Tool], descriptions: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The tools as a chat API takes them (litellm's and OpenAI's `tools`), with each description as rendered."""
    said = descriptions or {}
    return [{"type": "function", "function": {"name": t.name, "description": said.get(t.name, t.description), "parameters": t.parameters}}
            for t in tools]


def render_description(tool: Tool, env: Any, variables: dict[str, Any]) -> str:
    """A tool's description for a case: a template too, so the learner's text can be the description
    (`description: "{{ attempt }}"`). Raises what the sandbox raises (the loader renders each one first)."""
    if "{" not in tool.description:
        return tool.description
    from lab.format.templating import render_string

    return render_string(env, tool.description, variables).strip()


def argument_problem(tool: Tool, args: Any) -> str | None:
    """Why `args` do not fit the tool's `parameters` (one clause), or None."""
    from graders._regex import RegexTimeout
    from graders.structured import schema_violation

    try:
        found = schema_violation(tool.parameters, args)
    except RegexTimeout:
        return "a pattern of the parameters took too long to check"
    if found is None:
        return None
    path, problem = found
    return problem if path == "$" else f"{path.removeprefix('$.')}: {problem}"


class Toolbox:
    """The tools of one case: answers each call the way the exercise says, within `rounds` rounds of calls."""

    def __init__(self, tools: Sequence[Tool], env: Any, variables: dict[str, Any], rounds: int):
        self.tools = {t.name: t for t in tools}
        self.env = env  # the exercise root's sandboxed environment
        self.variables = variables  # the case's vars, `case`, `attempt`, `texts` (what a block sees)
        self.rounds = rounds

    @property
    def specs(self) -> list[dict[str, Any]]:
        return tool_specs(list(self.tools.values()), {t.name: render_description(t, self.env, self.variables) for t in self.tools.values()})

    def answer(self, call: ToolCall) -> ToolAnswer:
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(self.tools) or "none"
            return ToolAnswer(f"{ERROR_PREFIX}there is no tool named '{call.name}'; the tools are: {known}.", True)
        args = call.args
        if args is None:
            return ToolAnswer(f"{ERROR_PREFIX}the arguments of {call.name} are not valid JSON: {call.arguments[:200]}", True)
        problem = argument_problem(tool, args)
        if problem is not None:
            return ToolAnswer(f"{ERROR_PREFIX}the arguments of {call.name} do not fit its parameters: {problem}.", True)
        return ToolAnswer(render_result(tool, self.env, {**self.variables, "args": args}))


def render_result(tool: Tool, env: Any, variables: dict[str, Any]) -> str:
    """A call's answer: the tool's `result` rendered in the sandbox. A result that cannot be made (the loader
    renders each one, so this is rare: an argument's value meeting a bound) answers as an error the model reads."""
    from lab.format.templating import render_string

    try:
        return render_string(env, tool.result, variables).strip()
    except Exception as exc:  # a Jinja error, a bound met, or Python's own: the model reads what a failing tool says
        from lab.format.templating import describe_template_error

        message, _ = describe_template_error(exc)
        return f"{ERROR_PREFIX}the tool {tool.name} failed ({message.removeprefix('template error: ')})."


def sample_arguments(schema: Any, required_only: bool = False) -> Any:
    """Arguments a call could send for `schema` (the loader renders each result with them): a value of each
    property's type, `enum`'s first, every property or only the required ones."""
    if not isinstance(schema, dict):
        return "value"
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind == "object" or (kind is None and isinstance(schema.get("properties"), dict)):
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
        return {name: sample_arguments(sub, required_only) for name, sub in properties.items()
                if not required_only or name in required}
    if kind == "array":
        items = schema.get("items")
        return [sample_arguments(items, required_only)] if isinstance(items, dict) else []
    minimum = schema.get("minimum")
    if not isinstance(minimum, (int, float)) or isinstance(minimum, bool) or abs(minimum) > 2**53 or not math.isfinite(minimum):
        minimum = None  # `minimum: .inf` (or .nan, or 10**400) is valid JSON Schema, and no number to make a call with
    if kind == "integer":
        return max(1, int(minimum)) if minimum is not None else 1
    if kind == "number":
        return float(minimum) if minimum is not None else 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "value"


def check_result_renders(tool: Tool, env: Any, variables: dict[str, Any]) -> str | None:
    """Why the tool's `result` cannot be made for a call (a message for the loader), or None. Tried with every
    parameter filled in and with the required ones alone: a call may leave the others out."""
    from lab.format.templating import describe_template_error, render_string

    try:
        render_description(tool, env, variables)
    except Exception as exc:
        return describe_template_error(exc)[0] + " (in its description)"
    full = sample_arguments(tool.parameters)
    least = sample_arguments(tool.parameters, required_only=True)
    for args, which in ((full, ""), (least, " when a call gives only the required arguments")):
        try:
            render_string(env, tool.result, {**variables, "args": args})
        except (TemplateError, Exception) as exc:
            import re

            missing = re.search(r"has no attribute '([^']+)'", str(exc))
            if missing and isinstance(full, dict) and missing.group(1) in full:
                return (f"the argument '{missing.group(1)}' is not in `required`, so a call may leave it out "
                        f"(write `args.{missing.group(1)} | default('')`)")
            if missing:
                return f"'{missing.group(1)}' is not an argument of the tool (its parameters have no such property)"
            message, _ = describe_template_error(exc)
            return message + which
    return None
