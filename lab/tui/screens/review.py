"""One judged verdict at a time: the output, the rubric the judge was given, its exchange and verdict;
the trainer confirms or overrides it (pass, fail or a score on the criterion's scale), with a note.
Each decision is committed to cohort.db by `lab.classroom.review` the moment a key is pressed."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Input, Static

from lab.classroom.review import ReviewItem, Session
from lab.errors import LabError
from lab.tui.screens.base import LabScreen, stylesheet

EMPTY = ("Nothing to review: no criterion of this cohort was decided by a judge model "
         "(only judge-style checks are reviewed). Press q to quit.")


class ReviewScreen(LabScreen):
    NAMESPACE = "Review"
    CSS_PATH = stylesheet("review")
    AUTO_FOCUS = ""  # (None would mean the app's "*") the keys are the screen's; the note and score fields take the focus only when opened
    BINDINGS: ClassVar[list[Any]] = [
        Binding("c", "confirm", "Confirm", id="review.confirm", tooltip="The judge got it right."),
        Binding("p", "verdict(True)", "Pass", id="review.pass", tooltip="Override: it passes."),
        Binding("f", "verdict(False)", "Fail", id="review.fail", tooltip="Override: it fails."),
        Binding("s", "ask_score", "Score", id="review.score", tooltip="Override with a score on the criterion's scale."),
        Binding("n", "ask_note", "Note", id="review.note", tooltip="A note on this decision."),
        Binding("space,right", "skip", "Skip", id="review.skip", tooltip="Decide later."),
        Binding("left,backspace", "back", "Back", id="review.back", tooltip="The previous item."),
        Binding("q", "quit_review", "Quit", id="review.quit", tooltip="Leave; every decision is already saved."),
        Binding("escape", "cancel_input", "Cancel", id="review.cancel", show=False, tooltip="Close the note or score field."),
        Binding("up", "scroll(-1)", "Up", id="review.up", show=False, tooltip="Scroll up."),
        Binding("down", "scroll(1)", "Down", id="review.down", show=False, tooltip="Scroll down."),
        Binding("pageup", "scroll(-10)", "Page up", id="review.page-up", show=False, tooltip="Scroll a page up."),
        Binding("pagedown", "scroll(10)", "Page down", id="review.page-down", show=False, tooltip="Scroll a page down."),
        *(Binding(str(d), f"digit({d})", str(d), id=f"review.digit-{d}", show=False, tooltip=f"Override with the score {d}.")
          for d in range(10)),
    ]

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.pending_note: str | None = None  # typed before a decision: goes with the next one

    def compose(self) -> ComposeResult:
        yield Header()
        if self.session.current is None:
            yield Static(EMPTY, id="review-empty")
        else:
            yield Static(id="review-position")
            # not focusable: left, right and space belong to the review, not to scrolling; up/down/page keys scroll it
            with VerticalScroll(id="review-body", can_focus=False):
                yield Static("Output", classes="output-title")
                yield Static(id="review-output")
                yield Static("Rubric (what the judge was asked)", classes="output-title")
                yield Static(id="review-rubric")
                yield Static("The judge's exchange", classes="output-title")
                yield Static(id="review-exchange")
            yield Static(id="review-verdict")
            yield Input(placeholder="a note on this decision; enter keeps it, escape cancels", id="review-note")
            yield Input(placeholder="a score on the criterion's scale; enter overrides with it", id="review-score")
        yield Static(id="review-help")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        if self.session.current is not None:
            self.show()

    def can_run(self, action: str) -> bool:
        if self.session.current is None:
            return action in ("quit_review", "cancel_input")
        return True

    # ------------------------------------------------------------------ drawing
    def show(self, message: str | None = None, error: bool = False) -> None:
        item = self.session.current
        if item is None:
            return
        where = "every output" if item.case == "*" else f"case {item.case}" + (f" #{item.sample + 1}" if item.sample else "")
        self.query_one("#review-position", Static).update(Text.assemble(
            ("Review ", "bold"), f"{self.session.position} · {item.learner} · {item.exercise} · ",
            (item.criterion, "bold"), f" ({item.check}, {item.scale}) · {where} · {self.session.reviewed} reviewed"))
        self.query_one("#review-output", Static).update(Text(item.output or "(empty output)"))
        rubric = item.rubric + (f"\n\nFeedback on a fail: {item.feedback}" if item.feedback else "")
        self.query_one("#review-rubric", Static).update(Text(rubric or "(not recorded)"))
        self.query_one("#review-exchange", Static).update(exchange_text(item))
        self.query_one("#review-verdict", Static).update(verdict_text(item, self.pending_note))
        self.query_one("#review-body", VerticalScroll).scroll_home(animate=False)
        help_line = self.query_one("#review-help", Static)
        help_line.set_class(error, "-error")
        help_line.update(Text(message or self.hint(item)))

    def hint(self, item: ReviewItem) -> str:
        low, high = item.low_high
        score = f"{low}-{high} a score" if high <= 9 else f"s a score ({low}-{high})"
        return f"c confirm · p pass · f fail · {score} · n note · space skip · ← back · q quit"

    # ------------------------------------------------------------------ decisions
    def decide(self, decision: str, **kwargs: Any) -> None:
        last = self.session.index == len(self.session.items) - 1
        try:
            self.session.decide(decision, note=self.pending_note, **kwargs)
        except LabError as exc:
            self.show(str(exc), error=True)
            return
        self.pending_note = None
        done = f"Saved. That was the last item: {self.session.reviewed} of {len(self.session.items)} reviewed; q quits." if last else None
        self.show(done)

    def action_confirm(self) -> None:
        self.decide("confirm")

    def action_verdict(self, passed: bool) -> None:
        self.decide("override", passed=passed)

    def action_digit(self, digit: int) -> None:
        item = self.session.current
        if item is None:
            return
        low, high = item.low_high
        if item.scale == "pass-fail" or not low <= digit <= high:
            self.show(f"{digit} is not on this criterion's {item.scale} scale ({low} to {high}): use p or f, or a score from {low} to {high}.", error=True)
            return
        self.decide("override", score=float(digit))

    def action_skip(self) -> None:
        self.decide("skip")

    def action_back(self) -> None:
        self.session.back()
        self.pending_note = None
        self.show()

    def action_scroll(self, lines: int) -> None:
        body = self.query_one("#review-body", VerticalScroll)
        body.scroll_relative(y=lines, animate=False)

    def action_quit_review(self) -> None:
        self.app.exit(0)

    # ------------------------------------------------------------------ note and score fields
    def action_ask_note(self) -> None:
        field = self.query_one("#review-note", Input)
        item = self.session.current
        field.value = self.pending_note or (item.review.note if item and item.review and item.review.note else "")
        field.add_class("-shown")
        field.focus()

    def action_ask_score(self) -> None:
        field = self.query_one("#review-score", Input)
        field.value = ""
        field.add_class("-shown")
        field.focus()

    def action_cancel_input(self) -> None:
        for field in self.query(Input):
            field.remove_class("-shown")
        self.set_focus(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        self.action_cancel_input()
        if event.input.id == "review-note":
            saved = self.session.note(value)
            if saved is None:
                self.pending_note = value or None
                self.show("The note goes with your decision on this item.")
            else:
                self.show("Note saved.")
            return
        try:
            score = float(value)
        except ValueError:
            self.show(f"{value!r} is not a number: type a score on the criterion's scale.", error=True)
            return
        self.decide("override", score=score)


def exchange_text(item: ReviewItem) -> Text:
    text = Text()
    for number, exchange in enumerate(item.exchanges, 1):
        if len(item.exchanges) > 1:
            text.append(f"— exchange {number} —\n", "bold")
        for message in exchange.messages:
            text.append(f"{message.get('role', '?')}: ", "bold")
            text.append(str(message.get("content") or "") + "\n")
        text.append("answer: ", "bold")
        text.append(exchange.answer.rstrip() + "\n")
    return text if item.exchanges else Text("(no exchange recorded)")


def verdict_text(item: ReviewItem, pending_note: str | None) -> Text:
    text = Text.assemble(("Judge: ", "bold"), (item.verdict, "red" if item.judge_passed is False else "green" if item.judge_passed else "yellow"),
                         f" · {item.reason}")
    review = item.review
    if review is not None:
        if review.decision == "override":
            verdict = "pass" if review.trainer_passed else "fail"
            what = f"override → {verdict}" + (f" ({review.trainer_score:g} on {item.scale})" if review.trainer_score is not None else "")
        else:
            what = {"confirm": "confirmed", "skip": "skipped"}.get(review.decision, review.decision)
        text.append("\nYou: ", "bold")
        text.append(what + (f" · note: {review.note}" if review.note else ""))
    if pending_note:
        text.append(f"\nNote for your decision: {pending_note}")
    return text
