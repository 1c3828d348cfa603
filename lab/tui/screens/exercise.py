"""One exercise: the task on the left, the learner's editor and the model's answers on the right.

The attempt runs in a thread worker through `lab.practice.attempts.run_attempt`; each streamed piece hops
to the UI with `call_from_thread` into its case's `OutputText` (raw text unless `t` asks for Markdown). Every run carries a token:
once cancelled (or replaced), its late pieces and its result are ignored, so `escape` frees the
screen at once even when the model is still silent.
"""

from __future__ import annotations

import threading
from itertools import count
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Button, Collapsible, Footer, Header, Markdown, Static, TextArea

from lab.errors import CancelledError, LabError, PromptError
from lab.format.exercise import Exercise
from lab.format.conversation import join_turns
from lab.format.messages import build_messages, render_text, text_blocks
from lab.practice.attempts import AttemptOutcome, cut_off_notice, empty_notice, output_note, rounds_notice, run_attempt
from lab.practice.learner import solution_text
from lab.practice.learner import you_write as learner_writes
from lab.practice.spending import Estimate, check_cap, estimate_attempt, spent
from lab.settings.i18n import N_, translator
from lab.tui.format import score_text
from lab.tui.keys import typing
from lab.tui.screens.base import LabScreen, stylesheet
from lab.tui.session import NO_MODEL_MESSAGE, LabSession
from lab.tui.threads import run_watched
from lab.tui.widgets.grade import GradeView
from lab.tui.widgets.conversation import ConversationView
from lab.tui.widgets.output import OutputText, toggle_outputs

DRAFT_DELAY_S = 0.4  # save the draft this long after the last keystroke
ESTIMATE_DELAY_S = 0.3  # re-estimate the attempt's cost this long after the last keystroke
# the footer's words for this screen's keys (BINDINGS below), for the catalogue; shown in the exercise's language
FOOTER_WORDS = (N_("Send"), N_("Cancel run"), N_("Leave editor"), N_("Catalog"), N_("Edit"), N_("Hint"), N_("Next"),
                N_("History"), N_("Raw/Markdown"), N_("Reset"), N_("Send fresh"), N_("Try case"), N_("Two models"), N_("Grade"))
_tokens = count(1)


class ExerciseScreen(LabScreen):
    NAMESPACE = "Exercise"
    CSS_PATH = stylesheet("exercise")
    # the editor straight away: each focus change restyles the whole screen (:focus-within), and the
    # default focus (the first focusable widget) and then the editor's made two of them per opening
    AUTO_FOCUS = "#editor"
    # under this many rows (80x24 is the smallest terminal the lab supports) the screen is `-short`: its
    # .tcss gives the answers the rows that blank lines and several editors' borders and long labels took
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-short"), (34, "-tall")]
    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+j,alt+enter", "send", "Send", id="exercise.send", priority=True,
                tooltip="Send your prompt to the model, one call per case, then grade the answers."),
        Binding("ctrl+r", "send_fresh", "Send fresh", id="exercise.send-fresh", priority=True, show=False,
                tooltip="Send without the response cache: ask the model again even for a request it answered before."),
        Binding("ctrl+o", "try_case", "Try case", id="exercise.try", priority=True, show=False,
                tooltip="Try your text on one case: one call, and how each criterion reads the answer (not an attempt)."),
        Binding("escape", "cancel", "Cancel run", id="exercise.cancel", tooltip="Stop the run in flight; your prompt stays in the editor."),
        Binding("escape", "leave_editor", "Leave editor", id="exercise.leave-editor",
                tooltip="Stop typing, so that the letter keys (h, n, r, e...) work."),
        Binding("escape", "back", "Catalog", id="exercise.back", tooltip="Back to the catalog; your draft is saved."),
        Binding("e", "edit", "Edit", id="exercise.edit", tooltip="Put the cursor back in the editor."),
        Binding("h", "hint", "Hint", id="exercise.hint", tooltip="Reveal the next hint (the count is kept with your attempts)."),
        Binding("f2", "hint_anywhere", "Hint", id="exercise.hint-f2", show=False, tooltip="Reveal the next hint, even while typing."),
        Binding("n", "next", "Next", id="exercise.next", tooltip="Open the next exercise (once this one is passed)."),
        Binding("r", "history", "History", id="exercise.history", tooltip="Your attempts at this exercise: open, compare, restore."),
        Binding("t", "toggle_rendered", "Raw/Markdown", id="exercise.toggle-rendered",
                tooltip="Show the answers as the raw text the checks grade, or rendered as Markdown."),
        Binding("x", "reset", "Reset", id="exercise.reset", show=False,
                tooltip="Put the starter text back in the editor: press x twice (undo with ctrl+z)."),
        Binding("g", "grade", "Grade", id="exercise.grade", show=False, tooltip="Scroll the answers to the grade's first criterion."),
        Binding("M", "two_models", "Two models", id="exercise.two-models", show=False,
                tooltip="Send your prompt to your model and to a second one, one after the other, then compare the two attempts."),
    ]

    def __init__(self, session: LabSession, exercise: Exercise):
        super().__init__()
        self.session = session
        self.exercise = exercise
        self.run_token: int | None = None
        self.cancel_event: threading.Event | None = None
        # each output's title by (lane, case, sample): lane 0, or the model's place when a prompt runs on two
        self.stream_titles: dict[tuple[int, str, int], Static] = {}
        self.tried_case: str | None = None  # the case `Try on this case` used last
        self.rendered = False  # raw text by default: what a learner sees is what was graded
        self._draft_timer: Timer | None = None
        self._draft_dirty = False
        self._draft_text: Any = ""
        self._estimate_timer: Timer | None = None
        self.estimate: Estimate | None = None  # of the editor's text, once the worker has made it
        self.estimated_text: str | None = None  # the text `estimate` is of
        self.status_text = ""
        self.runs_started = 0
        self.passed = bool((p := session.progress().get(exercise.id)) and p.passed)
        # one editor per text the learner writes, each with its own starter (`writes: turns`: its messages joined by ---)
        self.several = len(exercise.texts) > 1
        self.editor_ids = {name: f"editor-{name}" if self.several else "editor" for name in exercise.texts}
        if self.several:
            self.AUTO_FOCUS = f"#{self.editor_ids[exercise.texts[0]]}"
        starters = text_blocks(exercise, "starter")
        self.starters = {name: join_turns(v) if isinstance(v, list) else v for name, v in starters.items()}
        self.starter = self.starters.get(exercise.main_text, "")
        # each output's OutputText, or its case's ConversationView, by (lane, case, sample) as the titles
        self.streams: dict[tuple[int, str, int], Any] = {}
        self.plans: dict[str, Any] = {}  # the run's conversation of each case (lab.format.conversation.CasePlan)
        self.tr = translator(exercise.lang)  # the screen's own words in the exercise's language
        self._translate_footer()

    def _translate_footer(self) -> None:
        """This screen's key descriptions in the exercise's language (ids and keys unchanged, so a keymap still applies)."""
        from dataclasses import replace

        words = set(FOOTER_WORDS)
        table = self._bindings.key_to_bindings
        for key, bindings in table.items():
            table[key] = [replace(b, description=self.tr.gettext(b.description)) if b.description in words else b for b in bindings]

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        e, t = self.exercise, self.tr
        yield Header()
        with Horizontal(id="exercise"):
            with VerticalScroll(id="task", can_focus=True):
                minutes = " · " + t.gettext("{minutes} min").format(minutes=e.meta.minutes) if e.meta.minutes else ""
                you_write = learner_writes(e, t)
                level = t.gettext("level {level}").format(level=e.level)
                yield Static(f"[b]{e.title}[/b]\n{e.track} · {level}{minutes} · {you_write}", id="meta")
                yield Markdown(render_text(e, "brief") or "", id="brief")
                system = render_text(e, "system") if e.writes == "prompt" else None
                if system:
                    with Collapsible(title=t.gettext("System prompt set by the exercise"), collapsed=False, id="system"):
                        yield Static(system, markup=False)
                with Collapsible(title=self._cases_title(), collapsed=len(e.cases) > 3, id="cases"):
                    conversations = self._case_conversations() if e.chat else {}
                    for case in e.cases:
                        yield Static(self._case_text(case.name, case.vars) + conversations.get(case.name, ""), classes="case", markup=False)
                yield Static(id="hints")
                with Collapsible(title=t.gettext("Model solution"), collapsed=False, id="solution"):
                    yield Static(id="solution-text", markup=False)
            with Vertical(id="work"):
                for name in e.texts:
                    several = " -several" if self.several else ""
                    yield Static(self._editor_label(name), id="editor-label" if not self.several else f"editor-label-{name}",
                                 classes="editor-label" + several, markup=False)
                    yield TextArea(id=self.editor_ids[name], classes="editor" + several, soft_wrap=True, tab_behavior="focus",
                                   show_line_numbers=False)
                with Horizontal(id="actions"):
                    yield Button(t.gettext("Send"), id="send", variant="primary", compact=True, tooltip=t.gettext("ctrl+j or alt+enter"))
                    yield Button(t.gettext("Try on this case"), id="try", compact=True,
                                 tooltip=t.gettext("ctrl+o: one case, one call, a preview of the grade; not an attempt"))
                # what sending would cost, updated as the learner types
                yield Static(id="estimate", markup=False)
                # full width and as tall as it needs: an error message must be read whole
                yield Static(id="status", markup=False)
                with VerticalScroll(id="results"):
                    yield Vertical(id="outputs")
                    yield GradeView(id="grade", tr=t)
                yield Static(id="spend", markup=False)  # this session's and today's spend, always in view
        yield Footer()

    def _editor_label(self, name: str) -> str:
        """The label above one editor: what the text is, and the keys (a single editor says how to send)."""
        t, e = self.tr, self.exercise
        if name == "turns":
            return t.ngettext("Your messages (at most {n}): a line holding only --- starts the next; ctrl+j sends:",
                              "Your messages (at most {n}): a line holding only --- starts the next; ctrl+j sends:", e.max_turns).format(n=e.max_turns)
        if not self.several:
            return {"system": t.gettext("Your system prompt (ctrl+j sends; write {{ name }} to place a case's data):"),
                    "prefill": t.gettext("Your prefill: the start of the model's answer, which it continues (ctrl+j sends):"),
                    "answer": t.gettext("Your answer (ctrl+j grades it as written; no model is called):")}.get(
                name, t.gettext("Your prompt (ctrl+j sends; write {{ name }} to place a case's data):"))
        return {"system": t.gettext("Your system prompt:"), "prompt": t.gettext("Your prompt (write {{ name }} to place a case's data):"),
                "prefill": t.gettext("Your prefill: the start of the model's answer, which it continues:")}[name]

    def _case_conversations(self) -> dict[str, str]:
        """Each case's conversation as text under its data (the exercise's turns, where the learner's texts go)."""
        import io

        from lab.practice.learner import case_inputs
        from lab.practice.report import Paint, conversation_lines

        plain = Paint(io.StringIO())
        return {i.name: "\n" + "\n".join(conversation_lines(i.conversation, plain, self.tr)) for i in case_inputs(self.exercise)}

    # ------------------------------------------------------------------ editors
    def editor_value(self) -> Any:
        """What the editors hold, as `run_attempt` takes it: the text, or the texts by name."""
        if not self.several:
            return self.query_one("#editor", TextArea).text
        return {name: self.query_one(f"#{id_}", TextArea).text for name, id_ in self.editor_ids.items()}

    def _load_editors(self, texts: dict[str, Any] | str) -> None:
        """Fill the editors (one undoable edit each): a text for a single editor, else texts by name."""
        if isinstance(texts, str):
            texts = {self.exercise.texts[0]: texts}
        for name, id_ in self.editor_ids.items():
            if name in texts:
                value = texts[name]
                editor = self.query_one(f"#{id_}", TextArea)
                editor.replace(join_turns(value) if isinstance(value, list) else str(value), (0, 0), editor.document.end)

    def _cases_title(self) -> str:
        n = len(self.exercise.cases)
        if self.exercise.writes == "answer":
            return self.tr.ngettext("Cases ({n}): your answer is graded on it", "Cases ({n}): your answer is graded on each", n).format(n=n)
        return self.tr.ngettext("Cases ({n}): one call each", "Cases ({n}): one call each", n).format(n=n)

    @staticmethod
    def _case_text(name: str, variables: dict[str, Any]) -> str:
        lines = [name]
        for key, value in variables.items():
            lines.append(f"  {key}: {value}")
        return "\n".join(lines)

    def on_mount(self) -> None:
        if self.several:
            draft = self.session.store.draft_texts(self.exercise.id) or {}
            for name, id_ in self.editor_ids.items():
                value = draft.get(name)
                self.query_one(f"#{id_}", TextArea).load_text(value if isinstance(value, str) else self.starters.get(name, ""))
            self.query_one(f"#{self.editor_ids[self.exercise.texts[0]]}", TextArea).focus()
        else:
            editor = self.query_one("#editor", TextArea)
            draft = self.session.store.draft(self.exercise.id)
            editor.load_text(draft if draft is not None else self.starter)
            editor.focus()
        self.query_one(GradeView).clear()
        self._show_hints()
        self._show_solution()
        self._show_spend()
        self.estimate_worker(self.editor_value())
        last = next((a for a in self.session.attempts(self.exercise.id) if a.status == "graded" and a.result), None)
        if last is not None and last.result:
            self.query_one(GradeView).show_result(last.result)
            self._status(self.tr.gettext("Your last attempt scored {score}.").format(score=score_text(last.score, bool(last.passed), last.pass_mark)), "")
        elif self.exercise.writes == "answer":
            self._status(self.tr.gettext("Write your answer, then ctrl+j: it is graded as it stands (no model is called)."), "")
        elif self.session.call_config() is None:
            self._status(NO_MODEL_MESSAGE, "-error")
        else:
            self._status(self.tr.gettext("Model: {model}. Write, then ctrl+j.").format(model=self.session.settings.model), "")

    def on_screen_resume(self) -> None:
        # back from the model screen: say what sending will use now
        config = self.session.call_config()
        if not self.running and config is not None and self.status_text == NO_MODEL_MESSAGE:
            self._status(self.tr.gettext("Model: {model}. Write, then ctrl+j.").format(model=config.model), "")
        self.estimate_worker(self.editor_value())  # the model, and so the price, may have changed
        self._show_spend()

    def on_unmount(self) -> None:
        self.flush_draft()
        if not self.app.is_running:  # the lab is closing, not the learner leaving the screen: say so
            self.session.abandon_in_flight()
        if self.cancel_event is not None:
            self.cancel_event.set()

    # ------------------------------------------------------------------ drafts
    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if not event.text_area.has_class("editor"):
            return
        self._draft_dirty = True
        self._draft_text = self.editor_value()
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(DRAFT_DELAY_S, self.flush_draft)
        if self._estimate_timer is not None:
            self._estimate_timer.stop()
        self._estimate_timer = self.set_timer(ESTIMATE_DELAY_S, self._estimate_now)

    # ------------------------------------------------------------------ cost
    def _estimate_now(self) -> None:
        self.estimate_worker(self.editor_value())

    def _estimate_of(self, text: Any, case: str | None = None) -> Estimate:
        """The cost of sending `text` with the session's model and judge (prices read as data, no litellm);
        with `case`, of trying that case alone."""
        config = self.session.call_config()
        judge = self.session.judge_config() or config  # counted only where a criterion asks a judge
        return estimate_attempt(self.exercise, text, model=config.model if config else None,
                                judge_model=judge.model if judge is not None else None, case=case)

    @work(thread=True, exclusive=True, group="estimate", exit_on_error=False)
    def estimate_worker(self, text: Any) -> None:
        # a thread: the first estimate reads litellm's price table (a fifth of a second), never on the UI thread
        try:
            estimate: Estimate | None = self._estimate_of(text)
        except LabError:  # an empty or unrenderable prompt: sending says why; the estimate just waits
            estimate = None
        self.lab.call_threadsafe(self._show_estimate, text, estimate)

    def _show_estimate(self, text: Any, estimate: Estimate | None) -> None:
        if not self.is_mounted:  # the learner left while the worker was estimating
            return
        if text != self.editor_value():  # overtaken by typing: a newer estimate is on its way
            return
        self.estimate, self.estimated_text = estimate, text
        free = estimate is None or not (estimate.calls or estimate.judge_calls)  # an answer graded without a model
        estimate_line = self.query_one("#estimate", Static)
        estimate_line.update("" if free else f"≈ {estimate.short(self.tr)}")
        estimate_line.display = not free

    def _show_spend(self) -> None:
        cap = self.session.settings.max_cost
        now = spent(self.session.store)
        self.query_one("#spend", Static).update(now.line(cap, self.tr))

    def _cap_question(self, text: Any, case: str | None = None, second_model: str | None = None) -> str | None:
        """What passing the daily cap would be, or None when sending stays under it (or no cap is set).
        `case`: trying that one case, not sending an attempt; `second_model`: sending to it as well."""
        cap = self.session.settings.max_cost
        if cap is None:
            return None
        estimate = self.estimate if self.estimated_text == text and case is None else self._estimate_of(text, case)
        cost = estimate.cost_usd
        if second_model is not None and cost is not None:
            judge = self.session.judge_config() or self.session.call_config()
            other = estimate_attempt(self.exercise, text, model=second_model, judge_model=judge.model if judge is not None else None)
            cost = None if other.cost_usd is None else cost + other.cost_usd
        check = check_cap(spent(self.session.store).today_usd, cost, cap)
        return check.message(self.tr) if check is not None and check.over else None

    def flush_draft(self) -> None:
        if not self._draft_dirty:
            return
        self._draft_dirty = False
        try:
            if isinstance(self._draft_text, dict):  # every editor field, the main one also as the draft's text
                main = self._draft_text.get(self.exercise.main_text, "")
                self.session.store.save_draft(self.exercise.id, main, self._draft_text)
            else:
                self.session.store.save_draft(self.exercise.id, self._draft_text)
        except Exception as exc:  # a full disk must not eat the learner's text: say so, keep it on screen
            self.notify(f"Your draft could not be saved: {exc}", severity="error")

    # ------------------------------------------------------------------ hints and solution
    def _show_hints(self) -> None:
        hints = self.exercise.hints
        shown = self.session.store.hints_revealed(self.exercise.id)
        widget = self.query_one("#hints", Static)
        if not hints:
            widget.display = False
            return
        t = self.tr
        heading = t.gettext("Hint {number}/{total}:")
        lines = [f"[b]{heading.format(number=i + 1, total=len(hints))}[/b] {self._escape(h)}" for i, h in enumerate(hints[:shown])]
        if shown < len(hints):
            left = len(hints) - shown
            said = t.ngettext("{n} hint(s) left: press h (or f2).", "{n} hint(s) left: press h (or f2).", left).format(n=left)
            lines.append(f"[dim]{said}[/dim]")
        widget.update("\n".join(lines))

    @staticmethod
    def _escape(text: str) -> str:
        from rich.markup import escape

        return escape(text)

    def _show_solution(self) -> None:
        solution = solution_text(self.exercise) if self.passed else None
        box = self.query_one("#solution", Collapsible)
        box.display = bool(solution)
        if solution:
            self.query_one("#solution-text", Static).update(solution)

    # ------------------------------------------------------------------ status
    def _status(self, text: str, kind: str) -> None:
        self.status_text = text
        status = self.query_one("#status", Static)
        status.update(text)
        status.set_class(kind == "-error", "-error")
        status.set_class(kind == "-success", "-success")

    @property
    def running(self) -> bool:
        return self.run_token is not None

    def can_run(self, action: str) -> bool:
        if action == "cancel":
            return self.running
        if action == "leave_editor":
            return not self.running and typing(self)
        if action == "back":
            return not self.running and not typing(self)
        if action == "next":
            return self.passed and self.session.next_exercise(self.exercise.id) is not None
        if action in ("hint", "hint_anywhere"):
            return self.session.store.hints_revealed(self.exercise.id) < len(self.exercise.hints)
        if action in ("edit", "toggle_rendered"):
            return not typing(self)
        if action in ("send", "send_fresh", "try_case", "two_models"):
            return not self.running
        if action == "grade":
            return any(view.display for view in self.query(GradeView))
        return True

    # ------------------------------------------------------------------ actions
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self.action_send()
        elif event.button.id == "try":
            self.action_try_case()

    def action_send(self) -> None:
        self._after_typing(self._send)

    def _after_typing(self, callback: Any, *args: Any) -> None:
        # a priority key overtakes a paste still queued for the editor: read the text once the editor
        # has handled what it was sent before the key, so what is sent is what the editor holds
        focused = self.focused if isinstance(self.focused, TextArea) else self.query_one(f"#{next(iter(self.editor_ids.values()))}", TextArea)
        focused.call_later(callback, *args)

    def action_send_fresh(self) -> None:
        """Send, asking the model again even where the response cache holds the answer."""
        self._after_typing(self._send, True)

    def _send(self, fresh: bool = False, second: tuple[str, str | None] | None = None) -> None:
        if self.running:
            self._status(self.tr.gettext("A run is in flight: escape cancels it."), "-error")
            return
        config = self.session.call_config()
        answering = self.exercise.writes == "answer"
        if config is None and not answering:
            self._status(NO_MODEL_MESSAGE, "-error")
            return
        text = self._draft_text = self.editor_value()
        self._draft_dirty = True
        self.flush_draft()
        try:
            built = build_messages(self.exercise, text)  # a bad prompt is reported before anything starts
        except PromptError as exc:
            self._status(str(exc), "-error")
            return
        over = self._cap_question(text, second_model=second[0] if second else None)
        if over is None:
            self._launch(text, built, fresh, second)
            return
        from lab.tui.screens.cost_cap import CostCapScreen

        def answered(go: bool | None) -> None:
            if go:
                self._launch(text, built, fresh, second)
            else:  # nothing is sent and nothing recorded: the learner did not try
                self._status(self.tr.gettext("Nothing was sent: {reason}. Your prompt is still in the editor.").format(reason=over), "")

        self.app.push_screen(CostCapScreen(over, self.tr), answered)

    def _launch(self, text: Any, built: list[Any], fresh: bool = False, second: tuple[str, str | None] | None = None) -> None:
        if self.running:  # a second send queued behind the cap's question
            return
        config = self.session.call_config()
        answering = self.exercise.writes == "answer"
        samples = 1 if answering else self.exercise.rubric.samples
        self.plans = {b.case: b for b in built}
        configs = [config] if second is None or config is None else [config, self._second_config(config, *second)]
        lanes = [c.model if c is not None and len(configs) > 1 else None for c in configs]
        self._start_outputs([(lane, b.case, s) for lane in range(len(configs)) for b in built for s in range(samples)], samples, lanes)
        token = next(_tokens)
        self.run_token = token
        self.runs_started += 1
        self.cancel_event = threading.Event()
        if answering or config is None:
            said = self.tr.gettext("Grading your answer…")
        elif len(configs) > 1:
            said = self.tr.gettext("Sending to {model}, then to {other}… (escape cancels)").format(model=config.model, other=configs[1].model)
        else:
            said = self.tr.gettext("Sending to {model}… (escape cancels)").format(model=config.model)
        self._status(said, "")
        self.refresh_bindings()
        hints_used = self.session.store.hints_revealed(self.exercise.id)
        self.run_attempt_worker(token, text, hints_used, self.cancel_event, configs, fresh)

    def _second_config(self, config: Any, model: str, api_base: str | None) -> Any:
        from dataclasses import replace

        return replace(config, model=model, api_base=api_base)

    def _start_outputs(self, slots: list[tuple[int, str, int]], samples: int, lanes: list[str | None] | None = None,
                       note: str = "") -> None:
        outputs = self.query_one("#outputs", Vertical)
        outputs.remove_children()
        self.query_one(GradeView).clear()
        self.streams = {}
        self.stream_titles = {}
        widgets = []
        for lane, case, sample in slots:
            label = case if samples == 1 else f"{case} · " + self.tr.gettext("sample {n}").format(n=sample + 1)
            model = (lanes or [None])[lane] if lanes and lane < len(lanes) else None
            label += f" · {model}" if model else ""
            plan = self.plans.get(case)
            output: Any
            if self.exercise.chat and plan is not None:  # the case as a conversation: its messages, then each answer
                output = ConversationView(plan.opening, pending=not plan.learner_turns, prefill=plan.prefill,
                                          rendered=self.rendered, tr=self.tr, classes="conversation")
            else:
                output = OutputText(rendered=self.rendered, classes="output")
            title = Static(f"── {label}{note}", classes="output-title", markup=False)
            widgets += [title, output]
            self.streams[(lane, case, sample)] = output
            self.stream_titles[(lane, case, sample)] = title
        outputs.mount_all(widgets)
        self.query_one("#results", VerticalScroll).anchor()

    @work(thread=True, group="attempt", exit_on_error=False)
    def run_attempt_worker(self, token: int, text: Any, hints_used: int, cancel: threading.Event,
                           configs: list[Any] | None = None, fresh: bool = False) -> None:
        from dataclasses import replace

        configs = configs if configs is not None else [self.session.call_config()]
        judge = self.session.judge_config()  # one judge for every model, so that grades differ by the answers alone
        if fresh:  # ask again: the response cache is not read, and keeps the new answers
            configs = [replace(c, cache="refresh") if c is not None else None for c in configs]
            judge = replace(judge, cache="refresh") if judge is not None else None

        in_flight = self.session.in_flight  # what is left in it when the app closes is recorded as cancelled
        started: list[int] = []

        def attempt(lane: int, config: Any) -> AttemptOutcome:
            try:
                return run_attempt(
                    self.exercise, text, config=config, store=self.session.store, hints_used=hints_used,
                    concurrency=self.session.settings.concurrency, judge_config=judge, cancel=cancel,
                    on_delta=lambda case, sample, piece: self.lab.call_threadsafe(self._delta, token, case, sample, piece, lane),
                    # an answer streams nothing: each case shows the learner's text as it was graded
                    on_output=(lambda case, sample, answer: self.lab.call_threadsafe(self._delta, token, case, sample, answer, lane))
                    if self.exercise.writes == "answer" else None,
                    on_started=lambda attempt_id: (started.append(attempt_id), in_flight.add(attempt_id)),
                    on_turn=lambda case, sample, index: self.lab.call_threadsafe(self._turn, token, case, sample, index, lane),
                    on_tool=lambda case, sample, message: self.lab.call_threadsafe(self._tool, token, case, sample, message, lane),
                    on_notice=lambda notice: self.lab.call_threadsafe(self._notice, token, notice),
                )
            finally:
                in_flight.difference_update(started)

        outcomes: list[tuple[int, AttemptOutcome]] = []
        failure: tuple[LabError, int | None] | None = None
        for lane, config in enumerate(configs):  # one model after the other: the learner reads each as it comes
            done = run_watched(lambda lane=lane, config=config: attempt(lane, config), "lab-attempt",  # type: ignore[misc]
                               on_abandon=cancel.set)  # quitting never waits for a model
            if not done.finished:
                return
            if done.error is not None:
                # an engine bug still reaches the learner as a sentence, not a traceback
                error = done.error if isinstance(done.error, LabError) else LabError(f"internal error: {type(done.error).__name__}: {done.error}")
                failure = (error, started[-1] if started else None)
                if isinstance(error, (CancelledError, PromptError)):  # the learner stopped it, or the text fits no model
                    break
                continue  # one model failing does not keep the prompt from the other (as `lab run --model A --model B`)
            if done.value is not None:
                outcomes.append((lane, done.value))
        if len(outcomes) > 1:
            self.lab.call_threadsafe(self._finished_both, token, outcomes)
        elif outcomes:
            self.lab.call_threadsafe(self._finished, token, outcomes[0][1], outcomes[0][0], failure[0] if failure else None)
        elif failure is not None:
            self.lab.call_threadsafe(self._failed, token, *failure)

    async def _delta(self, token: int, case: str, sample: int, piece: str, lane: int = 0) -> None:
        stream = self.streams.get((lane, case, sample))
        if token == self.run_token and stream is not None:
            stream.append(piece)

    async def _turn(self, token: int, case: str, sample: int, index: int, lane: int = 0) -> None:
        """A message the learner wrote is going out: it joins the case's conversation, and its answer streams below it."""
        view = self.streams.get((lane, case, sample))
        plan = self.plans.get(case)
        if token == self.run_token and isinstance(view, ConversationView) and plan is not None and index < len(plan.turns):
            await view.start_turn(plan.turns[index])

    async def _tool(self, token: int, case: str, sample: int, message: Any, lane: int = 0) -> None:
        """The model called tools, or a tool answered: drawn in the case's conversation, in order."""
        view = self.streams.get((lane, case, sample))
        if token == self.run_token and isinstance(view, ConversationView):
            await view.add_tool(message)

    async def _notice(self, token: int, notice: str) -> None:
        if token == self.run_token:
            self.notify(notice, severity="warning", timeout=12)

    async def _stop_streams(self) -> None:
        """Nothing to flush: each piece is drawn as it arrives (kept as the one place a run's outputs end)."""

    async def _finished(self, token: int, outcome: AttemptOutcome, lane: int = 0, other_failed: LabError | None = None) -> None:
        """The grade of a run; `other_failed`: the error of the other model of a run on two, which left only this one."""
        if token != self.run_token:
            return
        if other_failed is not None:
            self.notify(self.tr.gettext("The other model failed: {error}").format(error=other_failed), severity="error", timeout=15)
        await self._stop_streams()
        self.run_token = self.cancel_event = None
        self._show_spend()
        result = outcome.to_dict()
        self.query_one(GradeView).show_result(result)
        self._show_grade_top()
        t = self.tr
        notice = " ".join(n for n in (cut_off_notice(result, self.exercise.meta.model.max_tokens, t),
                                      rounds_notice(result, self.exercise.tool_rounds, t)) if n) or None
        empty = empty_notice(result, t)
        self._mark_cut_off(result, lane)
        cached = " " + t.gettext("Answered from the response cache (no call, $0); ctrl+r asks the model again.") if outcome.cached else ""
        score = score_text(outcome.grade.score, outcome.grade.passed, outcome.grade.pass_mark)
        if outcome.grade.passed:
            self.passed = True
            self._show_solution()
            self._bring_into_view("#solution")
            nxt = self.session.next_exercise(self.exercise.id)
            said = (t.gettext("Passed with {score}! The model solution is on the left; n opens the next exercise.") if nxt
                    else t.gettext("Passed with {score}! The model solution is on the left."))
            self._status(said.format(score=score) + (f" {empty}" if empty else "") + cached, "-success")
        else:
            left = len(self.exercise.hints) - self.session.store.hints_revealed(self.exercise.id)
            tip = t.gettext("Read the reasons below, or press h for a hint.") if left else t.gettext("Read the reasons below.")
            cut = "".join(f" {n}" for n in (notice, empty) if n)
            head = t.gettext("Not passed yet: {score} of {pass_mark} needed.").format(score=score, pass_mark=f"{outcome.grade.pass_mark:.2f}")
            self._status(f"{head}{cut} {tip}{cached}", "-error")
        self.refresh_bindings()

    async def _finished_both(self, token: int, outcomes: list[tuple[int, AttemptOutcome]]) -> None:
        """A prompt run on two models: the second's grade below, and the two attempts compared."""
        from lab.practice.compare import compare_attempts
        from lab.tui.screens.compare import CompareScreen

        if token != self.run_token:
            return
        for lane, earlier in outcomes[:-1]:  # the grade shown is the last model's; the others' marks and a pass still count
            self._mark_cut_off(earlier.to_dict(), lane)
        await self._finished(token, outcomes[-1][1], lane=outcomes[-1][0])
        if any(o.grade.passed for _, o in outcomes) and not self.passed:
            self.passed = True
            self._show_solution()
        store = self.session.store
        a, b = (store.attempt(o.attempt_id) for _, o in outcomes[:2])
        scores = " · ".join(f"{o.model} {score_text(o.grade.score, o.grade.passed, o.grade.pass_mark)}" for _, o in outcomes)
        self._status(self.tr.gettext("Ran on both: {scores}. The comparison is open; escape comes back here.").format(scores=scores),
                     "-success" if all(o.grade.passed for _, o in outcomes) else "")
        self.app.push_screen(CompareScreen(compare_attempts(a, b), self.tr))

    def _show_grade_top(self) -> None:
        """Bring the grade's first criterion to the top of the answers' pane, once it is laid out: after a run
        the pane followed the answers' end, which would leave the reasons above (80x24) or show the grade's end."""
        results = self.query_one("#results", VerticalScroll)
        results.anchor(False)
        grade = self.query_one(GradeView)
        self.call_after_refresh(results.scroll_to_widget, grade, top=True, animate=False)

    def action_grade(self) -> None:
        self._show_grade_top()

    def _mark_cut_off(self, result: dict[str, Any], lane: int = 0) -> None:
        """An answer that stopped at the token limit, or that is empty, says so over its text."""
        for case in result["cases"]:
            outputs = case.get("outputs") or []
            for sample in range(len(outputs)):
                title = self.stream_titles.get((lane, case["name"], sample))
                note = output_note(case, sample, self.tr)
                if note is not None and title is not None:
                    t = self.tr
                    label = case["name"] if len(outputs) == 1 else f"{case['name']} · " + t.gettext("sample {n}").format(n=sample + 1)
                    title.update(f"── {label} · {note}")
                    title.add_class("-cut-off")

    async def _failed(self, token: int, error: LabError, attempt_id: int | None = None) -> None:
        if token != self.run_token:
            return
        await self._stop_streams()
        self.run_token = self.cancel_event = None
        self._show_spend()  # a failed or cancelled attempt may have used tokens
        if isinstance(error, PromptError):
            self._status(str(error), "-error")
        elif isinstance(error, CancelledError):
            self._status(self.tr.gettext("Cancelled. Your prompt is still in the editor."), "")
        elif attempt_id is not None and self.session.store.attempt(attempt_id).status == "not_sent":
            # as the history says it: nothing reached a model, so it is not a try
            self._status(f"{error} " + self.tr.gettext("Nothing reached the model, so this is not counted as a try "
                                                       "(history: not sent); your prompt is still in the editor."), "-error")
        elif attempt_id is None:  # a try (not an attempt) failed: nothing is recorded but its cost
            self._status(f"{error} " + self.tr.gettext("Your prompt is still in the editor."), "-error")
        else:
            self._status(f"{error} " + self.tr.gettext("The attempt is recorded as failed; your prompt is still in the editor."), "-error")
        self.refresh_bindings()

    def action_cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
        self.run_token = self.cancel_event = None
        self.run_worker(self._stop_streams(), exclusive=False)
        self._status(self.tr.gettext("Cancelled. Your prompt is still in the editor."), "")
        # out of the editor: the letter keys (r, h, e…) are keys again, not text typed into the prompt
        self.set_focus(self.query_one("#task"))
        self.refresh_bindings()

    # ------------------------------------------------------------------ trying one case
    def action_try_case(self) -> None:
        self._after_typing(self._pick_case)

    def _pick_case(self) -> None:
        if self.running:
            self._status(self.tr.gettext("A run is in flight: escape cancels it."), "-error")
            return
        if self.session.call_config() is None and self.exercise.writes != "answer":
            self._status(NO_MODEL_MESSAGE, "-error")
            return
        text = self.editor_value()
        try:
            build_messages(self.exercise, text)
        except PromptError as exc:
            self._status(str(exc), "-error")
            return
        names = [c.name for c in self.exercise.cases]
        if len(names) == 1:
            self._try(text, names[0])
            return
        from lab.tui.screens.case_picker import CasePickerScreen

        def picked(case: str | None) -> None:
            if case is not None:
                self._try(text, case)

        self.app.push_screen(CasePickerScreen(names, self.tried_case, self.tr), picked)

    def _try(self, text: str, case: str) -> None:
        if self.running:
            return
        self.tried_case = case
        over = self._cap_question(text, case)
        if over is None:
            self._launch_try(text, case)
            return
        from lab.tui.screens.cost_cap import CostCapScreen

        def answered(go: bool | None) -> None:
            if go:
                self._launch_try(text, case)
            else:
                self._status(self.tr.gettext("Nothing was sent: {reason}. Your prompt is still in the editor.").format(reason=over), "")

        self.app.push_screen(CostCapScreen(over, self.tr), answered)

    def _launch_try(self, text: str, case: str) -> None:
        if self.running:
            return
        self.plans = {b.case: b for b in build_messages(self.exercise, text)}  # checked when the case was picked
        self._start_outputs([(0, case, 0)], 1, note=" · " + self.tr.gettext("a try, not an attempt"))
        token = next(_tokens)
        self.run_token = token
        self.cancel_event = threading.Event()
        self._status(self.tr.gettext("Trying case '{case}'… (escape cancels)").format(case=case), "")
        self.refresh_bindings()
        self.try_worker(token, text, case, self.cancel_event)

    @work(thread=True, group="attempt", exit_on_error=False)
    def try_worker(self, token: int, text: str, case: str, cancel: threading.Event) -> None:
        from lab.practice.trying import try_case

        config, judge = self.session.call_config(), self.session.judge_config()
        done = run_watched(lambda: try_case(
            self.exercise, text, case, config=config, store=self.session.store, judge_config=judge, cancel=cancel,
            on_delta=lambda piece: self.lab.call_threadsafe(self._delta, token, case, 0, piece)), "lab-try", on_abandon=cancel.set)
        if not done.finished:
            return
        if isinstance(done.error, LabError):
            self.lab.call_threadsafe(self._failed, token, done.error)
        elif done.error is not None:
            self.lab.call_threadsafe(self._failed, token, LabError(f"internal error: {type(done.error).__name__}: {done.error}"))
        elif done.value is not None:
            self.lab.call_threadsafe(self._tried, token, done.value)

    async def _tried(self, token: int, outcome: Any) -> None:
        if token != self.run_token:
            return
        self.run_token = self.cancel_event = None
        self._show_spend()
        if self.exercise.writes == "answer":
            stream = self.streams.get((0, outcome.case, 0))
            if stream is not None and not stream.source:
                stream.append(outcome.output)
        self.query_one(GradeView).show_preview(outcome.to_dict())
        self._show_grade_top()
        t = self.tr
        said = t.gettext("Tried on '{case}': {passing} of {total} criteria pass on it. A try is not an attempt (it is not counted); "
                         "ctrl+j sends every case.").format(case=outcome.case, passing=outcome.passing, total=len(outcome.readings))
        if outcome.cached:
            said += " " + t.gettext("Answered from the response cache (no call, $0).")
        self._status(said, "")
        self.refresh_bindings()

    def action_two_models(self) -> None:
        """Pick a second model, then send the prompt to the learner's model and to it, one after the other."""
        if self.session.call_config() is None:
            self._status(NO_MODEL_MESSAGE, "-error")
            return
        if self.exercise.writes == "answer":
            self._status(self.tr.gettext("Your answer is graded as written: no model writes it, so there is nothing to run on two models."), "")
            return
        from lab.tui.screens.model import ModelScreen

        def chosen(choice: tuple[str, str | None] | None) -> None:
            if choice is not None:
                self._after_typing(self._send, False, choice)

        self.app.push_screen(ModelScreen(self.session, second=True), chosen)

    def action_toggle_rendered(self) -> None:
        self.rendered = not self.rendered
        toggle_outputs(self, self.rendered)
        self.notify(self.tr.gettext("Answers rendered as Markdown (t shows the raw text).") if self.rendered
                    else self.tr.gettext("Answers as raw text, as the checks grade them (t renders Markdown)."))

    def action_leave_editor(self) -> None:
        self.set_focus(self.query_one("#task"))  # at once, so the next letter is a key

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_edit(self) -> None:
        self.set_focus(self.query_one(f"#{next(iter(self.editor_ids.values()))}", TextArea))

    def action_hint(self) -> None:
        total = len(self.exercise.hints)
        if not total:
            self.notify(self.tr.gettext("This exercise has no hints."))
            return
        before = self.session.store.hints_revealed(self.exercise.id)
        shown = self.session.store.reveal_hint(self.exercise.id, total)
        self._show_hints()
        if shown == before:
            self.notify(self.tr.gettext("Every hint is already shown."))
        else:
            self._bring_into_view("#hints")
        self.refresh_bindings()

    def _bring_into_view(self, selector: str) -> None:
        """Scroll the task column until `selector` shows whole, once its new text has been laid out
        (scrolling at once would use its old height and show only its first line)."""
        widget = self.query_one(selector)
        self.call_after_refresh(widget.scroll_visible, animate=False)

    def action_hint_anywhere(self) -> None:
        self.action_hint()

    def action_next(self) -> None:
        nxt = self.session.next_exercise(self.exercise.id)
        if nxt is not None:
            self.lab.open_exercise(nxt.id)

    def action_history(self) -> None:
        from lab.tui.screens.history import HistoryScreen

        def restore(prompt: Any) -> None:
            if prompt is not None:
                self.set_prompt(prompt)
                self._status(self.tr.gettext("Restored an earlier prompt into the editor (ctrl+z undoes)."), "")

        self.app.push_screen(HistoryScreen(self.session, self.exercise), restore)

    RESET_CONFIRM_S = 3.0

    def action_reset(self) -> None:
        """Asks first: a second `x` within a few seconds replaces the prompt with the starter text."""
        import time

        now = time.monotonic()
        if now - getattr(self, "_reset_asked_at", -1e9) > self.RESET_CONFIRM_S:
            self._reset_asked_at = now
            self._status(self.tr.gettext("Press x again to replace your answer with the starter text.") if self.exercise.writes == "answer"
                         else self.tr.gettext("Press x again to replace your prompt with the starter text."), "")
            return
        self._reset_asked_at = -1e9
        self.set_prompt(dict(self.starters) if self.several else self.starter)
        self._status(self.tr.gettext("The starter text is back (ctrl+z undoes)."), "")

    def set_prompt(self, text: Any) -> None:
        """Replace the editors' texts (a text, or texts by name), each as one undoable edit."""
        self._load_editors(text)
        self.query_one(f"#{next(iter(self.editor_ids.values()))}", TextArea).focus()
