"""One case's conversation on screen: the exercise's messages (dimmed), the learner's own (marked as
theirs), and each answer as it streams, its prefill drawn as the start of the answer.

Built from `lab.format.conversation.Message`s: a case's opening before a run, then one learner message
and one answer per call of a conversation the learner writes; or a whole stored transcript.
"""

from __future__ import annotations

import gettext
from typing import Any, Iterable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from lab.format.conversation import Message
from lab.practice.report import message_label
from lab.settings.i18n import ENGLISH
from lab.tui.widgets.output import OutputText


class ConversationView(Vertical):
    """The messages of one case; `append` streams into the answer being written."""

    DEFAULT_CSS = """
    ConversationView { height: auto; }
    ConversationView .message-label { height: auto; color: $text-muted; text-style: bold; }
    ConversationView .message-label.-yours { color: $accent; }
    ConversationView .message { height: auto; }
    ConversationView .message.-exercise { color: $text-muted; }
    """

    def __init__(self, messages: Iterable[Message], *, pending: bool = False, prefill: str = "", rendered: bool = False,
                 tr: gettext.NullTranslations = ENGLISH, **kwargs: Any):
        super().__init__(**kwargs)
        self.messages = list(messages)
        self.pending, self.prefill, self.rendered, self.tr = pending, prefill, rendered, tr
        self.current: OutputText | None = None

    def compose(self) -> ComposeResult:
        for message in self.messages:
            yield from self._message(message)
        if self.pending:  # the answer to come: its prefill already stands at its start
            yield from self._answer_slot()

    def _message(self, m: Message) -> Iterable[Any]:
        yours = m.author == "learner" or bool(m.text)
        yield Static(f"[{message_label(m, self.tr)}]", classes="message-label" + (" -yours" if yours else ""), markup=False)
        if m.author == "model":
            yield OutputText(m.continuation, rendered=self.rendered, prefill=m.prefill, classes="message output")
        else:
            yield Static(m.content, classes="message" + ("" if yours else " -exercise"), markup=False)

    def _answer_slot(self) -> Iterable[Any]:
        yield Static(f"[{message_label(Message('assistant', '', 'model'), self.tr)}]", classes="message-label", markup=False)
        self.current = OutputText(rendered=self.rendered, prefill=self.prefill, classes="message output")
        yield self.current

    async def start_turn(self, text: str) -> None:
        """A message the learner wrote goes out: show it, and open the answer it gets."""
        widgets = list(self._message(Message("user", text, "learner", "turns"))) + list(self._answer_slot())
        await self.mount_all(widgets)

    def append(self, piece: str) -> None:
        if self.current is not None:
            self.current.append(piece)
