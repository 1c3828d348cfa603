"""A case's conversation as data: the messages sent, who wrote each, and every answer.

One model covers every shape an exercise can give a case: a system prompt and one user message, earlier
turns, a prefill the model continues, several learner texts, and a conversation the learner writes turn by
turn. A `Dialogue` walks one case's plan call by call (the engine makes the calls, sync or async), and its
`Transcript` is what grading reads (`reads:`) and what the faces show.

A message's `author` says who wrote it: the exercise, the learner, or the model. An answer that continued
a prefill keeps that prefill as its first characters (`prefill`): the answer as the learner reads it is
the prefill followed by the model's own words (the continuation).

With tools (lab/format/tools.py), a model message may carry calls (`calls`), each answered by a `tool`
message the lab writes (`call_id`, `tool`); the model is called again with them, round after round, until it
answers in text or the exercise's `tool_rounds` are spent. Then the answer is what the model said last, cut
off, and its calls stay unanswered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Sequence

from lab.format.tools import ToolCall

if TYPE_CHECKING:
    from lab.format.tools import Toolbox

Role = Literal["system", "user", "assistant", "tool"]
Author = Literal["exercise", "learner", "model"]
TURN_SEPARATOR = "---"  # a line holding only this separates the learner's turns in one text (an editor, a file)


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    author: Author = "exercise"
    text: str | None = None  # the learner's text this message carries (system, prompt, prefill, turns), if any
    prefill: str = ""  # an answer that continued a prefill: the prefill it starts with
    prefill_author: Author | None = None  # who wrote that prefill (the learner or the exercise)
    cut_off: bool = False  # an answer that stopped at the token limit, or while still calling tools
    calls: tuple[ToolCall, ...] = ()  # the model's calls in this message
    call_id: str | None = None  # a tool's answer: the call it answers
    tool: str | None = None  # a tool's answer: the tool's name
    error: bool = False  # a tool's answer that refused the call (no such tool, arguments that break its parameters)

    @property
    def answer(self) -> bool:
        """Whether this is an answer of the model (not a round of calls the lab answered)."""
        return self.author == "model" and (not self.calls or self.cut_off)

    @property
    def continuation(self) -> str:
        """The model's own words of an answer (after its prefill)."""
        return self.content[len(self.prefill):] if self.prefill and self.content.startswith(self.prefill) else self.content

    def api(self) -> dict[str, Any]:
        """The message as a chat API takes it."""
        if self.calls:
            return {"role": "assistant", "content": self.content or None, "tool_calls": [c.api() for c in self.calls]}
        if self.role == "tool":
            return {"role": "tool", "tool_call_id": self.call_id or "", "content": self.content}
        return {"role": self.role, "content": self.content}

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content, "author": self.author}
        if self.calls:
            data["calls"] = [c.as_json() for c in self.calls]
        if self.role == "tool":
            data["call_id"] = self.call_id
            data["tool"] = self.tool
            if self.error:
                data["error"] = True
        if self.text:
            data["text"] = self.text
        if self.prefill:
            data["prefill"] = self.prefill
            data["prefill_author"] = self.prefill_author
        if self.cut_off:
            data["cut_off"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Message":
        calls = tuple(ToolCall.from_json(c) for c in data.get("calls") or [] if isinstance(c, dict))
        return cls(str(data.get("role", "user")), str(data.get("content") or ""), data.get("author", "exercise"),  # type: ignore[arg-type]
                   data.get("text"), str(data.get("prefill") or ""), data.get("prefill_author"), bool(data.get("cut_off")),
                   calls, data.get("call_id"), data.get("tool"), bool(data.get("error")))


@dataclass(frozen=True)
class Transcript:
    """A case's whole conversation once answered: every message in order, the answers among them."""

    messages: tuple[Message, ...]

    @property
    def answer_messages(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.answer)

    @property
    def calls(self) -> tuple[ToolCall, ...]:
        """Every call the model made, in order (those left unanswered when the rounds ran out too)."""
        return tuple(c for m in self.messages if m.author == "model" for c in m.calls)

    @property
    def rounds_spent(self) -> bool:
        """Whether the model was still calling tools when the exercise's `tool_rounds` ran out."""
        return any(m.calls and m.cut_off for m in self.messages if m.author == "model")

    @property
    def answers(self) -> tuple[str, ...]:
        """Each answer as the learner reads it (its prefill, then the model's words)."""
        return tuple(m.content for m in self.answer_messages)

    @property
    def output(self) -> str:
        """The answer the checks read by default: the last one."""
        answers = self.answers
        return answers[-1] if answers else ""

    @property
    def continuation(self) -> str:
        answers = self.answer_messages
        return answers[-1].continuation if answers else ""

    @property
    def cut_off(self) -> bool:
        return any(m.cut_off for m in self.answer_messages)

    def text(self) -> str:
        """Every message as text (`reads: transcript`): each call with its arguments, each tool's answer."""
        parts = []
        for m in self.messages:
            if m.role == "tool":
                parts.append(f"[tool result: {m.tool}]\n{m.content}")
                continue
            if m.content or not m.calls:
                parts.append(f"[{m.role}]\n{m.content}")
            parts += [f"[tool call]\n{c.shown()}" for c in m.calls]
        return "\n\n".join(parts)

    def as_json(self) -> list[dict[str, Any]]:
        return [m.as_json() for m in self.messages]

    @classmethod
    def from_json(cls, data: Sequence[dict[str, Any]]) -> "Transcript":
        return cls(tuple(Message.from_json(m) for m in data if isinstance(m, dict)))


@dataclass(frozen=True)
class CasePlan:
    """What one case sends for the learner's texts: the messages before the first call, the prefill the model
    continues, and (for `writes: turns`) the learner's messages, sent one per call."""

    case: str
    opening: tuple[Message, ...]
    attempt: str = ""  # the learner's main text as rendered for this case
    texts: dict[str, Any] = field(default_factory=dict)  # each learner text rendered for this case (turns: a list)
    prefill: str = ""
    prefill_author: Author | None = None
    turns: tuple[str, ...] = ()  # `writes: turns`: the learner's messages
    learner_turns: bool = False
    toolbox: "Toolbox | None" = field(default=None, compare=False)  # the tools the model may call, and how the lab answers them

    @property
    def tools(self) -> list[dict[str, Any]] | None:
        """The tools as a chat API takes them, or None."""
        return self.toolbox.specs if self.toolbox is not None else None

    @property
    def calls(self) -> int:
        return len(self.turns) if self.learner_turns else 1

    @property
    def messages(self) -> list[dict[str, str]]:
        """The first call's messages, as a chat API takes them (the prefill last, as an assistant message)."""
        return Dialogue(self).next_call() or []

    def preview(self) -> tuple[Message, ...]:
        """Everything this case sends before any answer, in order: the opening, the learner's turns, the prefill."""
        turns = tuple(Message("user", t, "learner", "turns") for t in self.turns) if self.learner_turns else ()
        author = self.prefill_author or "exercise"
        prefill = (Message("assistant", self.prefill, author, "prefill" if author == "learner" else None, self.prefill, author),) \
            if self.prefill else ()
        return self.opening + turns + prefill


class Dialogue:
    """One case's conversation, call by call: `next_call()` gives the messages to send (None when done),
    `answer()` records what the model said. The same walk serves `lab run`, the TUI, `lab grade` and the
    examples of `lab check` (where the example's outputs stand in for the model)."""

    def __init__(self, plan: CasePlan):
        self.plan = plan
        self.messages: list[Message] = list(plan.opening)
        self.pending = list(plan.turns) if plan.learner_turns else []
        self.calls_made = 0
        self.waiting = False
        self.rounds = 0  # rounds of calls answered in the current turn

    @property
    def done(self) -> bool:
        return not self.waiting and (self.calls_made >= self.plan.calls)

    def next_call(self) -> list[dict[str, Any]] | None:
        if self.done:
            return None
        if not self.waiting:
            if self.plan.learner_turns:
                self.messages.append(Message("user", self.pending[self.calls_made], "learner", "turns"))
            self.waiting = True
            self.rounds = 0
        sent = [m.api() for m in self.messages]
        if self.plan.prefill:
            sent.append({"role": "assistant", "content": self.plan.prefill})
        return sent

    @property
    def turn(self) -> int:
        """The index of the call under way (or about to be)."""
        return self.calls_made

    def answer(self, continuation: str, cut_off: bool = False, calls: Sequence[ToolCall] = ()) -> Message:
        """Record the model's words (and calls) for the call under way; returns the model's message.

        A message with calls is answered here, each call by a tool message, and the turn goes on (`next_call`
        sends the results) while rounds are left; once they are spent, or when the model stopped at its token
        limit, the message is the answer, cut off, and its calls stay unanswered."""
        if not self.waiting:
            self.next_call()
        toolbox = self.plan.toolbox
        calls = tuple(calls)
        if calls and toolbox is not None and not cut_off and self.rounds < toolbox.rounds:
            message = Message("assistant", continuation, "model", calls=calls)
            self.messages.append(message)
            for call in calls:
                said = toolbox.answer(call)
                self.messages.append(Message("tool", said.content, "exercise", call_id=call.id, tool=call.name, error=said.error))
            self.rounds += 1
            return message
        prefill = self.plan.prefill
        message = Message("assistant", prefill + continuation, "model", None, prefill, self.plan.prefill_author if prefill else None,
                          cut_off or bool(calls), calls)
        self.messages.append(message)
        self.calls_made += 1
        self.waiting = False
        return message

    def transcript(self) -> Transcript:
        return Transcript(tuple(self.messages))


def split_turns(text: str) -> list[str]:
    """The learner's turns in one text: separated by lines holding only `---`; blank turns are dropped."""
    turns, current = [], []
    for line in text.splitlines():
        if line.strip() == TURN_SEPARATOR:
            turns.append("\n".join(current))
            current = []
        else:
            current.append(line)
    turns.append("\n".join(current))
    return [t.strip() for t in turns if t.strip()]


def join_turns(turns: Sequence[str]) -> str:
    """Turns as one text an editor or a file holds (the inverse of `split_turns`)."""
    return f"\n{TURN_SEPARATOR}\n".join(turns)


def transcript_of(plan: CasePlan, continuations: Sequence[str], calls: Sequence[ToolCall] = ()) -> Transcript:
    """The transcript a plan gets when the model's words are `continuations` (one per call), after it made
    `calls` (an example's: one round, each call answered as a run would answer it) before its first answer."""
    dialogue = Dialogue(plan)
    if calls:
        dialogue.answer("", calls=calls)
    for text in continuations:
        if dialogue.done:
            break
        dialogue.answer(text)
    return dialogue.transcript()
