"""One case's conversation on screen: the exercise's messages (dimmed), the learner's own (marked as
theirs), and each answer as it streams, its prefill drawn as the start of the answer.

Built from `lab.format.conversation.Message`s: a case's opening before a run, then one learner message
and one answer per call of a conversation the learner writes; or a whole stored transcript. With tools, each
call the model makes and each tool's result are drawn collapsed to one line (the call with its arguments), cut
to the pane's width with an ellipsis; opened, a call shows its arguments laid out as JSON, a result its whole text.
Its styles are in styles/app.tcss (every screen that shows a conversation reads it).
"""

from __future__ import annotations

import gettext
import json
from typing import Any, Iterable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Collapsible, Static

from lab.format.conversation import Message
from lab.practice.report import message_label, one_line
from lab.settings.i18n import ENGLISH
from lab.tui.widgets.output import OutputText

TITLE_WIDTH = 400  # a collapsed call or result: one line, wider than any pane (its CSS cuts it to the pane with an ellipsis)


def literal(text: str) -> Content:
    """A title drawn as written: a model's arguments or a tool's result holding `[b]` or `[link=…]` is text, not markup."""
    return Content(text)


class ConversationView(Vertical):
    """The messages of one case; `append` streams into the answer being written."""

    DEFAULT_CSS = "ConversationView { height: auto; }"

    def __init__(self, messages: Iterable[Message], *, pending: bool = False, prefill: str = "", rendered: bool = False,
                 tr: gettext.NullTranslations = ENGLISH, **kwargs: Any):
        super().__init__(**kwargs)
        self.messages = list(messages)
        self.pending, self.prefill, self.rendered, self.tr = pending, prefill, rendered, tr
        self.current: OutputText | None = None
        self.current_label: Static | None = None

    def compose(self) -> ComposeResult:
        for message in self.messages:
            yield from self._message(message)
        if self.pending:  # the answer to come: its prefill already stands at its start
            yield from self._answer_slot()

    def _message(self, m: Message) -> Iterable[Any]:
        if m.role == "tool" or (m.author == "model" and m.calls):
            yield from self._tool(m)
            return
        yours = m.author == "learner" or bool(m.text)
        yield Static(f"[{message_label(m, self.tr)}]", classes="message-label" + (" -yours" if yours else ""), markup=False)
        if m.author == "model":
            yield OutputText(m.continuation, rendered=self.rendered, prefill=m.prefill, classes="message output")
        else:
            yield Static(m.content, classes="message" + ("" if yours else " -exercise"), markup=False)

    def _tool(self, m: Message) -> Iterable[Any]:
        """A model message that called tools (its words, if any, then each call), or a tool's result, collapsed."""
        t = self.tr
        if m.role == "tool":
            label = t.gettext("result · {tool} · refused") if m.error else t.gettext("result · {tool}")
            title = f"[{label.format(tool=m.tool)}] {one_line(m.content, TITLE_WIDTH)}"
            yield Collapsible(Static(m.content, classes="message", markup=False), title=literal(title), collapsed=True,
                              classes="tool-result" + (" -refused" if m.error else ""))
            return
        if m.content or m.cut_off:
            said = message_label(m, t) if m.cut_off else message_label(Message("assistant", "", "exercise"), t)
            yield Static(f"[{said}]", classes="message-label", markup=False)
            if m.content:
                yield OutputText(m.content, rendered=self.rendered, classes="message output")
        label = t.gettext("call · not answered: the rounds ran out") if m.cut_off else t.gettext("call")
        for call in m.calls:
            args = call.args
            laid_out = json.dumps(args, ensure_ascii=False, indent=2) if args is not None else call.arguments
            yield Collapsible(Static(laid_out, classes="message", markup=False), title=literal(f"[{label}] {one_line(call.shown(), TITLE_WIDTH)}"),
                              collapsed=True, classes="tool-call" + (" -unanswered" if m.cut_off else ""))

    def _answer_slot(self) -> Iterable[Any]:
        self.current_label = Static(f"[{message_label(Message('assistant', '', 'model'), self.tr)}]", classes="message-label", markup=False)
        yield self.current_label
        self.current = OutputText(rendered=self.rendered, prefill=self.prefill, classes="message output")
        yield self.current

    async def add_tool(self, message: Message) -> None:
        """The model called tools, or a tool answered: drawn in order. The answer slot the model's words were
        streaming into gives way to the calls when it holds nothing; the next words open a new one."""
        if message.author == "model" and self.current is not None:
            if not self.current.source.strip():
                for widget in (self.current_label, self.current):
                    if widget is not None:
                        await widget.remove()
            self.current = self.current_label = None
        widgets = list(self._tool(Message(message.role, "", message.author, calls=message.calls, cut_off=message.cut_off))
                       if message.author == "model" else self._tool(message))
        await self.mount_all(widgets)

    async def start_turn(self, text: str) -> None:
        """A message the learner wrote goes out: show it, and open the answer it gets."""
        widgets = list(self._message(Message("user", text, "learner", "turns"))) + list(self._answer_slot())
        await self.mount_all(widgets)

    def append(self, piece: str) -> None:
        if self.current is None and piece and self.pending:  # the model's words after its calls: a new answer slot
            self.prefill = ""
            widgets = list(self._answer_slot())
            self.mount_all(widgets)
        if self.current is not None:
            self.current.append(piece)
