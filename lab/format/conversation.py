"""A case's conversation as data: the messages sent, who wrote each, and every answer.

One model covers every shape an exercise can give a case: a system prompt and one user message, earlier
turns, a prefill the model continues, several learner texts, and a conversation the learner writes turn by
turn. A `Dialogue` walks one case's plan call by call (the engine makes the calls, sync or async), and its
`Transcript` is what grading reads (`reads:`) and what the faces show.

A message's `author` says who wrote it: the exercise, the learner, or the model. An answer that continued
a prefill keeps that prefill as its first characters (`prefill`): the answer as the learner reads it is
the prefill followed by the model's own words (the continuation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

Role = Literal["system", "user", "assistant"]
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
    cut_off: bool = False  # an answer that stopped at the token limit

    @property
    def continuation(self) -> str:
        """The model's own words of an answer (after its prefill)."""
        return self.content[len(self.prefill):] if self.prefill and self.content.startswith(self.prefill) else self.content

    def api(self) -> dict[str, str]:
        """The message as a chat API takes it."""
        return {"role": self.role, "content": self.content}

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content, "author": self.author}
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
        return cls(str(data.get("role", "user")), str(data.get("content") or ""), data.get("author", "exercise"),  # type: ignore[arg-type]
                   data.get("text"), str(data.get("prefill") or ""), data.get("prefill_author"), bool(data.get("cut_off")))


@dataclass(frozen=True)
class Transcript:
    """A case's whole conversation once answered: every message in order, the answers among them."""

    messages: tuple[Message, ...]

    @property
    def answer_messages(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.author == "model")

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
        """Every message as text (`reads: transcript`)."""
        return "\n\n".join(f"[{m.role}]\n{m.content}" for m in self.messages)

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

    @property
    def done(self) -> bool:
        return not self.waiting and (self.calls_made >= self.plan.calls)

    def next_call(self) -> list[dict[str, str]] | None:
        if self.done:
            return None
        if not self.waiting:
            if self.plan.learner_turns:
                self.messages.append(Message("user", self.pending[self.calls_made], "learner", "turns"))
            self.waiting = True
        sent = [m.api() for m in self.messages]
        if self.plan.prefill:
            sent.append({"role": "assistant", "content": self.plan.prefill})
        return sent

    @property
    def turn(self) -> int:
        """The index of the call under way (or about to be)."""
        return self.calls_made

    def answer(self, continuation: str, cut_off: bool = False) -> Message:
        """Record the model's words for the call under way; returns the answer as the learner reads it."""
        if not self.waiting:
            self.next_call()
        prefill = self.plan.prefill
        message = Message("assistant", prefill + continuation, "model", None, prefill, self.plan.prefill_author if prefill else None, cut_off)
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


def transcript_of(plan: CasePlan, continuations: Sequence[str]) -> Transcript:
    """The transcript a plan gets when the model's words are `continuations` (one per call)."""
    dialogue = Dialogue(plan)
    for text in continuations:
        if dialogue.done:
            break
        dialogue.answer(text)
    return dialogue.transcript()
