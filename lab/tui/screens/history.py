"""An exercise's attempts: open one, compare two prompts, restore an old prompt into the editor.

The history screen is dismissed with the prompt to restore (or None), so the editor stays the
exercise screen's business.
"""

from __future__ import annotations

import difflib
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from lab.format.conversation import Transcript, join_turns
from lab.format.exercise import Exercise
from lab.practice.attempts import output_note
from lab.practice.learner import text_heading
from lab.practice.store import AttemptRecord, iter_outputs
from lab.tui.format import score_text, when_text
from lab.tui.screens.base import LabScreen, stylesheet
from lab.tui.session import LabSession
from lab.tui.widgets.conversation import ConversationView
from lab.tui.widgets.grade import GradeView
from lab.tui.widgets.output import OutputText

STATUS_WORDS = {"graded": "graded", "failed": "failed", "cancelled": "cancelled", "interrupted": "interrupted", "running": "unfinished",
                "not_sent": "not sent"}


def verdict(attempt: AttemptRecord) -> str:
    if attempt.status == "graded":
        said = "passed" if attempt.passed else "not passed"
        return said + (" · cached" if (attempt.result or {}).get("cached") else "")
    return STATUS_WORDS.get(attempt.status, attempt.status)


def count_line(attempts: list[AttemptRecord]) -> str:
    """"3 attempt(s) · 1 not sent": what counts as a try, then what does not (as `lab progress` counts them)."""
    from lab.practice.store import NOT_TRIES

    tries = sum(1 for a in attempts if a.status not in NOT_TRIES)
    apart = [(STATUS_WORDS.get(status, status), sum(1 for a in attempts if a.status == status)) for status in NOT_TRIES]
    return f"{tries} attempt(s)" + "".join(f" · {n} {word}" for word, n in apart if n)


class HistoryScreen(LabScreen):
    NAMESPACE = "History"
    CSS_PATH = stylesheet("history")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("enter", "open", "Open", id="history.open", tooltip="See this attempt's prompt, answers and grade."),
        Binding("space", "mark", "Mark", id="history.mark", tooltip="Mark this attempt (two at most) to compare them (c, d)."),
        Binding("c", "compare", "Compare", id="history.compare",
                tooltip="The two marked attempts (or the marked one and this one) side by side: what flipped, the prompts, the answers."),
        Binding("d", "diff", "Diff", id="history.diff", tooltip="Compare the marked attempt's prompt (or the one before) with this one."),
        Binding("r", "restore", "Restore", id="history.restore", tooltip="Put this attempt's prompt back in the editor."),
        Binding("j", "down", "Down", id="history.down", show=False, tooltip="Move down the list."),
        Binding("k", "up", "Up", id="history.up", show=False, tooltip="Move up the list."),
        Binding("escape", "close", "Back", id="history.back", tooltip="Back to the exercise."),
    ]

    def __init__(self, session: LabSession, exercise: Exercise):
        super().__init__()
        self.session = session
        self.exercise = exercise
        self.attempts = session.attempts(exercise.id)
        self.marks: list[int] = []  # the attempts marked to compare, oldest mark first (two at most)

    @property
    def marked(self) -> int | None:
        """The latest mark (what `d` diffs the highlighted attempt against)."""
        return self.marks[-1] if self.marks else None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"[b]History[/b] · {self.exercise.title} · {count_line(self.attempts)}", id="history-title", markup=True)
        yield DataTable(id="attempts", cursor_type="row", zebra_stripes=True)
        yield Static(id="history-help")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(" ", "#", "When", "Model", "Result", "Score", "Hints")
        self._fill()
        table.focus()
        help_text = ("enter opens an attempt · space marks two · c compares them side by side · d diffs prompts · "
                     "r restores a prompt into the editor"
                     if self.attempts else "No attempts yet: send a prompt from the exercise screen (ctrl+j).")
        self.query_one("#history-help", Static).update(help_text)

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for a in self.attempts:
            table.add_row("◆" if a.id in self.marks else "", str(a.id), when_text(a.started_at), a.model, verdict(a),
                          score_text(a.score, bool(a.passed), a.pass_mark), str(a.hints_used), key=str(a.id))
        if self.attempts:
            table.move_cursor(row=min(max(row, 0), len(self.attempts) - 1))

    def current(self) -> AttemptRecord | None:
        table = self.query_one(DataTable)
        if not self.attempts or not 0 <= table.cursor_row < len(self.attempts):
            return None
        return self.attempts[table.cursor_row]

    def can_run(self, action: str) -> bool:
        if action in ("open", "mark", "restore", "diff", "down", "up", "compare"):
            return bool(self.attempts) and (action not in ("diff", "compare") or len(self.attempts) > 1)
        return True

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        attempt = self.current()
        if attempt is not None:
            self.app.push_screen(AttemptScreen(attempt), self._restore_from_detail)

    def _restore_from_detail(self, prompt: str | None) -> None:
        if prompt is not None:
            self.dismiss(prompt)

    def action_mark(self) -> None:
        attempt = self.current()
        if attempt is None:
            return
        if attempt.id in self.marks:
            self.marks.remove(attempt.id)
        else:
            self.marks = (self.marks + [attempt.id])[-2:]  # a third mark replaces the oldest
        self._fill()

    def action_compare(self) -> None:
        """The two marked attempts side by side, the older as A; with one mark, it and the highlighted one."""
        from lab.practice.compare import compare_attempts
        from lab.settings.i18n import translator
        from lab.tui.screens.compare import CompareScreen

        chosen = list(self.marks)
        current = self.current()
        if len(chosen) < 2 and current is not None and current.id not in chosen:
            chosen.append(current.id)
        if len(chosen) < 2:
            self.notify("Mark two attempts with space (or one, then highlight the other), then press c.")
            return
        by_id = {a.id: a for a in self.attempts}
        older, newer = sorted((by_id[chosen[0]], by_id[chosen[1]]), key=lambda a: a.id)
        self.app.push_screen(CompareScreen(compare_attempts(older, newer), translator(self.exercise.lang)))

    def action_diff(self) -> None:
        attempt = self.current()
        if attempt is None:
            return
        index = self.attempts.index(attempt)
        other: AttemptRecord | None
        if self.marked is not None and self.marked != attempt.id:
            other = next((a for a in self.attempts if a.id == self.marked), None)
        else:
            other = self.attempts[index + 1] if index + 1 < len(self.attempts) else (self.attempts[index - 1] if index else None)
        if other is None:
            self.notify("There is only one attempt: nothing to compare it with.")
            return
        older, newer = sorted((other, attempt), key=lambda a: a.id)
        self.app.push_screen(DiffScreen(older, newer))

    def action_restore(self) -> None:
        attempt = self.current()
        if attempt is not None:
            self.dismiss(attempt.texts or attempt.prompt)

    def action_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_close(self) -> None:
        self.dismiss(None)


class AttemptScreen(LabScreen):
    NAMESPACE = "Attempt"
    CSS_PATH = stylesheet("history")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("r", "restore", "Restore", id="attempt.restore", tooltip="Put this prompt back in the editor."),
        Binding("t", "toggle_rendered", "Raw/Markdown", id="attempt.toggle-rendered",
                tooltip="Show the answers as the raw text the checks graded, or rendered as Markdown."),
        Binding("escape", "close", "Back", id="attempt.back", tooltip="Back to the history."),
    ]

    def __init__(self, attempt: AttemptRecord):
        super().__init__()
        self.attempt = attempt
        self.rendered = False  # raw text by default: what was graded

    def compose(self) -> ComposeResult:
        a = self.attempt
        yield Header()
        with VerticalScroll(id="attempt", can_focus=True):
            yield Static(f"[b]Attempt #{a.id}[/b] · {when_text(a.started_at)} · {a.model} · {verdict(a)} · "
                         f"{a.hints_used} hint(s) used", id="attempt-title")
            if a.texts:  # each text the learner wrote, under its name
                for name, value in a.texts.items():
                    yield Static(f"[b]{text_heading(name)}[/b]", classes="section")
                    yield Static(join_turns(value) if isinstance(value, list) else str(value), classes="attempt-text", markup=False)
            else:
                from lab.practice.attempts import ANSWER_MODEL

                yield Static("[b]Your answer[/b]" if a.model == ANSWER_MODEL else "[b]Prompt[/b]", classes="section")
                yield Static(a.prompt, id="attempt-prompt", markup=False)
            if a.error:
                yield Static(a.error, id="attempt-error", markup=False)
            cases = {c.get("name"): c for c in (a.result or {}).get("cases", [])}
            for case, outputs in iter_outputs(a.result):
                conversations = cases.get(case, {}).get("conversations") or []
                for n, text in enumerate(outputs):
                    label = case if len(outputs) == 1 else f"{case} · sample {n + 1}"
                    note = output_note(cases.get(case, {}), n)
                    yield Static(f"── {label}" + (f" · {note}" if note else ""), classes="output-title", markup=False)
                    if n < len(conversations):  # the whole conversation, the prefill marked in the answer
                        yield ConversationView(Transcript.from_json(conversations[n]).messages, classes="conversation")
                    else:
                        yield OutputText(text, classes="output")
            grade = GradeView(id="attempt-grade")
            yield grade
            yield from self._judge_exchanges()
        yield Footer()

    def _judge_exchanges(self) -> ComposeResult:
        """What each judge was sent and answered: a learner can see why a model gave the grade it did."""
        from textual.widgets import Collapsible

        from lab.practice.judging import stored_exchanges

        exchanges = stored_exchanges(self.attempt.result)
        if not exchanges:
            return
        yield Static("[b]Judge[/b]", classes="section")
        for e in exchanges:
            where = "all cases" if e["case"] == "*" else f"{e['case']} #{e['sample'] + 1}"
            yield Static(f"── {e['criterion']} · {where} · {e['model']} ({e['route']}) · try {e['try']}",
                         classes="output-title", markup=False)
            with Collapsible(title="What the judge was sent", collapsed=True, classes="judge-sent"):
                yield Static("\n\n".join(f"[{m.get('role')}]\n{m.get('content')}" for m in e["messages"]), markup=False)
            yield Static(e["answer"], classes="judge-answer", markup=False)
            if e.get("problem") and e["try"] > 1:
                yield Static(f"Unusable answer: {e['problem']}", classes="judge-problem", markup=False)

    def on_mount(self) -> None:
        grade = self.query_one(GradeView)
        if self.attempt.status == "graded" and self.attempt.result:
            grade.show_result(self.attempt.result)
        else:
            grade.clear()
        self.query_one("#attempt").focus()

    def action_toggle_rendered(self) -> None:
        from lab.tui.widgets.output import toggle_outputs

        self.rendered = not self.rendered
        toggle_outputs(self, self.rendered)

    def action_restore(self) -> None:
        self.dismiss(self.attempt.texts or self.attempt.prompt)

    def action_close(self) -> None:
        self.dismiss(None)


def attempt_text(attempt: AttemptRecord) -> str:
    """What the learner wrote, as one text to compare: each text under a heading when there are several."""
    if not attempt.texts:
        return attempt.prompt
    return "\n\n".join(f"## {text_heading(name)}\n" + (join_turns(v) if isinstance(v, list) else str(v)) for name, v in attempt.texts.items())


def prompt_diff(older: AttemptRecord, newer: AttemptRecord) -> Text:
    """A unified diff of two prompts (every text of each, when the learner writes several), coloured:
    removed lines red, added green."""
    lines = difflib.unified_diff(attempt_text(older).splitlines(), attempt_text(newer).splitlines(),
                                 f"attempt #{older.id}", f"attempt #{newer.id}", lineterm="", n=3)
    text = Text()
    for line in lines:
        style = "bold" if line.startswith(("---", "+++")) else "cyan" if line.startswith("@@") else \
            "green" if line.startswith("+") else "red" if line.startswith("-") else ""
        text.append(line + "\n", style)
    if not text.plain:
        text.append("The two prompts are identical.")
    return text


class DiffScreen(LabScreen):
    NAMESPACE = "Diff"
    CSS_PATH = stylesheet("history")
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "close", "Back", id="diff.back", tooltip="Back to the history."),
    ]

    def __init__(self, older: AttemptRecord, newer: AttemptRecord):
        super().__init__()
        self.older, self.newer = older, newer

    def compose(self) -> ComposeResult:
        o, n = self.older, self.newer
        yield Header()
        with VerticalScroll(id="diff", can_focus=True):
            yield Static(f"[b]Prompt of #{o.id}[/b] ({score_text(o.score, bool(o.passed), o.pass_mark) or verdict(o)}) → [b]#{n.id}[/b] "
                         f"({score_text(n.score, bool(n.passed), n.pass_mark) or verdict(n)})", id="diff-title")
            yield Static(prompt_diff(o, n), id="diff-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#diff").focus()

    def action_close(self) -> None:
        self.dismiss(None)
