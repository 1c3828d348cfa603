"""Exercise format v1: the front-matter models and the loaded `Exercise`.

The field names are the trainers' contract (shared/exercise-format.md): extend, never rename.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
LANG_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CallSettings(BaseModel):
    """Call settings for every model call of an attempt; the model itself is the learner's choice."""

    model_config = ConfigDict(extra="allow", frozen=True)

    temperature: float | None = Field(default=0, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    tool_rounds: int | None = Field(default=None, ge=1, le=20)  # model turns that may call tools before the answer (the lab's, not sent)

    @model_validator(mode="after")
    def _no_model_name(self) -> "CallSettings":
        for banned in ("model", "api_key", "api_base", "messages", "tools", "tool_choice", "functions"):
            if banned in (self.model_extra or {}):
                raise ValueError(f"'{banned}' cannot be set by an exercise; the learner chooses the model and keys")
        return self

    def as_kwargs(self) -> dict[str, Any]:
        extra = dict(self.model_extra or {})
        base = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        return {k: v for k, v in {**base, **extra}.items() if v is not None}


TEXT_NAMES = ("system", "prompt", "prefill")  # what a `writes` list draws from, in the order a conversation holds them
DEFAULT_MAX_TURNS = 5
DEFAULT_TOOL_ROUNDS = 4
TOOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # what OpenAI-style APIs accept as a function name
Reads = Literal["output", "continuation", "every-answer", "any-answer", "prompt", "system", "prefill", "transcript"]


class Turn(_Strict):
    """One message before the graded call: `{user: "..."}` or `{assistant: "..."}`, a template with the case's variables."""

    user: str | None = None
    assistant: str | None = None

    @model_validator(mode="after")
    def _one_role(self) -> "Turn":
        if (self.user is None) == (self.assistant is None):
            raise ValueError("a turn is one message: write `user: ...` or `assistant: ...`, not both or neither")
        return self

    @property
    def role(self) -> str:
        return "user" if self.user is not None else "assistant"

    @property
    def content(self) -> str:
        return self.user if self.user is not None else str(self.assistant)


class Tool(_Strict):
    """A function the model may call during every case (format v1, "Tools"). `result` is the lab's answer to a
    call: a sandboxed template with the case's vars, the call's `args` and `attempt`; it never runs code."""

    name: str = Field(pattern=TOOL_NAME_PATTERN)
    description: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    result: str


class ExampleCall(_Strict):
    """One call an example's model made: the tool's name and its arguments (a mapping, or the raw text a model
    sent, to show what a call whose arguments are not JSON does)."""

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class Case(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    vars: dict[str, Any] = Field(default_factory=dict)
    turns: list[Turn] | None = None  # replaces the exercise's `turns` for this case


class Criterion(BaseModel):
    """One rubric line. Check-specific parameters are kept as extra fields and checked by the check."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    id: str = Field(pattern=NAME_PATTERN)
    check: str
    weight: float = Field(default=1, ge=0)
    cases: list[str] | None = None
    feedback: str | None = None
    negate: bool = Field(default=False, alias="not")
    reads: Reads = "output"  # what the check reads: the answer, the continuation, each answer, a learner text, the transcript

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def applies_to(self, case_name: str) -> bool:
        if self.cases is None:
            return True
        return any(fnmatch.fnmatchcase(case_name, pattern) for pattern in self.cases)


class Rubric(_Strict):
    pass_: float = Field(default=1.0, ge=0, le=1, alias="pass")
    samples: int = Field(default=1, ge=1, le=20)
    criteria: list[Criterion] = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Example(_Strict):
    # a text; a mapping of the texts when the learner writes several; a list of messages for `writes: turns`
    attempt: str | dict[str, str] | list[str]
    # what the model said (after any prefill) per case: a text, one per sample, or for `writes: turns`
    # the answers of the conversation (a list of such lists: one conversation per sample)
    outputs: dict[str, str | list[str] | list[list[str]]]
    expect: Literal["pass", "fail"]
    name: str | None = None
    # with tools: the calls the model made per case, before its output (a list of lists: one per sample)
    calls: dict[str, list[ExampleCall] | list[list[ExampleCall]]] = Field(default_factory=dict)

    def calls_for(self, case_name: str, sample: int) -> list[ExampleCall]:
        """The calls of one sample of a case (a flat list serves every sample)."""
        value = self.calls.get(case_name) or []
        if value and isinstance(value[0], list):
            nested: list[list[ExampleCall]] = value  # type: ignore[assignment]
            return list(nested[sample]) if sample < len(nested) else []
        return list(value)  # type: ignore[arg-type]

    def outputs_for(self, case_name: str) -> list[str]:
        """The outputs of a case, one per sample (for `writes: turns`, each conversation's last answer)."""
        return [answers[-1] if answers else "" for answers in self.conversations_for(case_name)] \
            if self._nested(case_name) else self._flat(case_name)

    def _flat(self, case_name: str) -> list[str]:
        value = self.outputs[case_name]
        return [value] if isinstance(value, str) else [str(v) for v in value]

    def _nested(self, case_name: str) -> bool:
        value = self.outputs[case_name]
        return isinstance(value, list) and any(isinstance(v, list) for v in value)

    def conversations_for(self, case_name: str) -> list[list[str]]:
        """For `writes: turns`: the answers of each sample's conversation (a flat list is one conversation)."""
        value = self.outputs[case_name]
        if isinstance(value, str):
            return [[value]]
        if self._nested(case_name):
            return [[str(a) for a in v] if isinstance(v, list) else [str(v)] for v in value]
        return [[str(v) for v in value]]


ATTACKER_TURNS = "turns"  # `pairing.into: turns`: the attacker's messages are the conversation after the system prompt


class Pairing(_Strict):
    """How an attack of the arena meets this defence (`role: defend`; docs/authoring.md, "Arenas")."""

    case: str = Field(pattern=NAME_PATTERN)  # the case a pair plays: its variables and the criteria that apply to it
    into: str = Field(min_length=1)  # the variable of that case the attacker's text fills, or `turns`
    benign: list[str] = Field(min_length=1)  # the cases (names or globs) a defence must pass on its own to enter the arena
    criteria: list[str] | None = None  # the criteria that grade a pair (default: every criterion that applies to `case`)


class FrontMatter(_Strict):
    format: Literal[1]
    id: str | None = Field(default=None, pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    track: str | None = Field(default=None, pattern=NAME_PATTERN)
    level: int = Field(ge=1, le=5)
    skills: list[str] = Field(default_factory=list)
    minutes: int | None = Field(default=None, gt=0)
    lang: str = Field(default="en", pattern=LANG_PATTERN)
    writes: Literal["prompt", "system", "prefill", "answer", "turns"] | list[str] = "prompt"
    max_turns: int | None = Field(default=None, ge=1, le=20)  # `writes: turns`: the messages a learner may write
    turns: list[Turn] = Field(default_factory=list)  # messages before the graded call (a case's own `turns` replace them)
    model: CallSettings = Field(default_factory=CallSettings)
    tools: list[Tool] = Field(default_factory=list)  # functions the model may call during every case
    vars: dict[str, Any] = Field(default_factory=dict)
    cases: list[Case] = Field(min_length=1)
    rubric: Rubric
    hints: list[str] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)
    arena: str | None = Field(default=None, pattern=NAME_PATTERN)  # the arena this exercise plays in, with the others of that name
    role: Literal["defend", "attack"] | None = None  # its side in the arena
    pairing: Pairing | None = None  # a defence's: where an attack lands, what keeps the defence honest

    @field_validator("skills")
    @classmethod
    def _skills_are_names(cls, value: list[str]) -> list[str]:
        for skill in value:
            if not skill or any(ch.isspace() for ch in skill):
                raise ValueError(f"skill {skill!r} must be one word, e.g. 'delimiters' or 'few-shot'")
        return value


# `starter_NAME` / `solution_NAME`: one text of an exercise whose learner writes several (`writes: [system, prompt]`)
BLOCKS = ("brief", "system", "user", "prefill", "starter", "solution",
          *(f"starter_{name}" for name in TEXT_NAMES), *(f"solution_{name}" for name in TEXT_NAMES))


@dataclass(frozen=True)
class Exercise:
    """A loaded, validated exercise. Texts are rendered on demand by `lab.format.templating`."""

    id: str
    path: Path
    root: Path
    meta: FrontMatter
    content_hash: str
    blocks: frozenset[str]
    template_name: str
    criterion_params: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    compiled: Any = field(default=None, compare=False, repr=False)  # lab.format.templating.CompiledExercise
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)  # front-matter key -> line (arena checks)

    @property
    def title(self) -> str:
        return self.meta.title

    @property
    def skills(self) -> tuple[str, ...]:
        return tuple(self.meta.skills)

    @property
    def track(self) -> str:
        return self.meta.track or "general"

    @property
    def level(self) -> int:
        return self.meta.level

    @property
    def lang(self) -> str:
        return self.meta.lang

    @property
    def writes(self) -> str | list[str]:
        return self.meta.writes

    @property
    def texts(self) -> tuple[str, ...]:
        """The names of the texts the learner writes, in the order of their editor fields."""
        return written_texts(self.meta.writes)

    @property
    def main_text(self) -> str:
        """The learner's main text (kept as an attempt's `prompt`): the prompt where it writes one, else its first text."""
        return main_text(self.texts)

    @property
    def arena(self) -> str | None:
        return self.meta.arena

    @property
    def role(self) -> str | None:
        return self.meta.role

    @property
    def pairing(self) -> Pairing | None:
        return self.meta.pairing

    @property
    def max_turns(self) -> int:
        return self.meta.max_turns or DEFAULT_MAX_TURNS

    @property
    def tools(self) -> list[Tool]:
        return self.meta.tools

    @property
    def tool_rounds(self) -> int:
        """Model turns that may call tools before the answer (`model.tool_rounds`, default 4)."""
        return self.meta.model.tool_rounds or DEFAULT_TOOL_ROUNDS

    @property
    def chat(self) -> bool:
        """Whether the exercise shapes more of the conversation than one system and one user message: several
        texts, a prefill, earlier turns, learner-written turns or tools. Its cases are shown as conversations."""
        return (bool(self.meta.tools) or len(self.texts) > 1 or self.texts[0] in ("prefill", "turns") or bool(self.meta.turns)
                or any(c.turns for c in self.meta.cases) or "prefill" in self.blocks)

    def case_turns(self, case_name: str) -> list[Turn]:
        """The messages before the graded call in this case (its own, else the exercise's)."""
        case = self.case(case_name)
        return list(case.turns) if case.turns is not None else list(self.meta.turns)

    @property
    def cases(self) -> list[Case]:
        return self.meta.cases

    @property
    def rubric(self) -> Rubric:
        return self.meta.rubric

    @property
    def hints(self) -> list[str]:
        return self.meta.hints

    def case(self, name: str) -> Case:
        for case in self.meta.cases:
            if case.name == name:
                return case
        raise KeyError(name)

    def variables(self, case_name: str | None, attempt: str = "", texts: dict[str, Any] | None = None,
                  preview: bool = False) -> dict[str, Any]:
        return block_variables(self.meta, case_name, attempt, texts, preview)

    def learner_variables(self, case_name: str) -> dict[str, Any]:
        return learner_variables(self.meta, case_name)


def learner_variables(meta: FrontMatter, case_name: str) -> dict[str, Any]:
    """What the learner's text sees: the exercise's vars and the case's vars (case wins), nothing else.

    Not the case's name nor the list of cases: a prompt must not be able to tell which case it is in.
    Nor a var whose name starts with `_`: that is the rubric's (expected answers), like a `_` partial.
    """
    case = next(c for c in meta.cases if c.name == case_name)
    return {k: v for k, v in {**meta.vars, **case.vars}.items() if not k.startswith("_")}


def written_texts(writes: str | list[str]) -> tuple[str, ...]:
    """`writes` as the names of the texts the learner writes (`prompt` -> ("prompt",))."""
    return tuple(writes) if isinstance(writes, list) else (writes,)


def main_text(texts: tuple[str, ...]) -> str:
    return "prompt" if "prompt" in texts or not texts else texts[0]


def writes_label(writes: str | list[str]) -> str:
    """`writes` in one word for listings: `system+prompt` for a list."""
    return "+".join(writes) if isinstance(writes, list) else writes


def block_variables(meta: FrontMatter, case_name: str | None, attempt: str, texts: dict[str, Any] | None = None,
                    preview: bool = False) -> dict[str, Any]:
    """What a block sees: the exercise's vars, the case's vars (case wins), `case`, `attempt`, `texts`, `cases`
    and `preview`.

    `texts` holds the learner's texts by name (`texts.system`, `texts.prompt`, `texts.prefill`, `texts.turns`),
    rendered for the case. `preview` is true when the lab shows a case's messages before anything is written
    (`lab show`, the lab's list of cases), with placeholders for the learner's texts: an attack level masks its
    secret then. Exercise-level blocks (brief, starter, solution) see the first case.
    """
    case = next((c for c in meta.cases if c.name == case_name), meta.cases[0])
    variables = dict(meta.vars)
    variables.update(case.vars)
    variables["case"] = case.name
    variables["attempt"] = attempt
    variables["texts"] = dict(texts or {})
    variables["preview"] = preview
    variables["cases"] = [{"name": c.name, "vars": c.vars} for c in meta.cases]
    return variables
