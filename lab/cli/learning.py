"""The learner's commands: list, show, run, hint, solution, history, progress and attempt."""

from __future__ import annotations

import sys
import textwrap
import threading
from typing import TYPE_CHECKING, Any, TextIO

from lab.cli.common import (
    EXIT_BAD,
    EXIT_NOT_PASSED,
    EXIT_OK,
    call_configs,
    cache_options,
    last_attempt_id,
    load_checked_exercises,
    load_exercises,
    models_of,
    open_store,
    print_json,
    read_texts,
    text_options,
    warn_problems,
)
from lab.format.offline import MARK as OFFLINE_MARK
from lab.settings.i18n import ENGLISH

if TYPE_CHECKING:
    import argparse


def register(sub: Any, common: argparse.ArgumentParser, model: argparse.ArgumentParser) -> None:
    p = sub.add_parser("list", parents=[common], help="list exercises with your status")
    p.add_argument("--track", help="only this track")
    p.add_argument("--offline", action="store_true",
                   help="only the exercises you can practise with no key and no server (on the built-in model, or with no model)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("show", parents=[common], help="print an exercise's brief")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("run", parents=[common, model], help="run a prompt against an exercise and grade it")
    p.add_argument("id")
    text_options(p)
    p.add_argument("--samples", type=int, help="model calls per case (default: the exercise's rubric.samples)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (the stream goes to stderr)")
    p.add_argument("--yes", action="store_true", help="send even when the attempt would pass your daily cap (LAB_MAX_COST)")
    cache_options(p)
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("hint", parents=[common], help="reveal the next hint (or hints up to N); the lab counts it as the TUI does")
    p.add_argument("id")
    p.add_argument("number", nargs="?", type=int, metavar="N", help="reveal up to hint N and show it")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_hint)

    p = sub.add_parser("solution", parents=[common], help="the model solution, once you have passed the exercise")
    p.add_argument("id")
    p.set_defaults(handler=cmd_solution)

    p = sub.add_parser("history", parents=[common], help="your attempts at an exercise, newest first")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_history)

    p = sub.add_parser("attempt", parents=[common], help="show a recorded attempt: prompt, outputs, grade and the judge's exchanges")
    p.add_argument("attempt_id", metavar="ID", help="the attempt number (`lab run` prints it), or `last`")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--open", action="store_true", help="show each tool's result whole (one line each without)")
    p.set_defaults(handler=cmd_attempt)

    p = sub.add_parser("progress", parents=[common], help="your progress per track and exercise")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_progress)


def cmd_list(args: argparse.Namespace) -> int:
    from lab.format.offline import offline_marker
    from lab.practice.report import output_width

    catalog, unchecked = load_checked_exercises(args)
    with open_store() as store:
        progress = store.progress()
    rows = []
    is_offline = offline_marker()
    for e in catalog.exercises:
        offline = is_offline(e.id, e.root)
        if args.track and e.track != args.track or args.offline and not offline:
            continue
        p = progress.get(e.id)
        rows.append({
            "id": e.id, "title": e.title, "track": e.track, "level": e.level, "skills": list(e.skills), "lang": e.lang,
            "status": p.status if p else "new", "best_score": None if p is None or p.best_score is None else round(p.best_score, 4),
            "attempts": p.attempts if p else 0, "offline": offline,
        })
    if args.track and not rows and args.track not in catalog.tracks():
        from lab.errors import LabError

        import difflib

        close = difflib.get_close_matches(args.track, catalog.tracks(), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise LabError(f"No track '{args.track}'.{hint} Tracks: {', '.join(catalog.tracks()) or 'none'}.")
    if args.json:
        print_json(rows)
    else:
        print("\n".join(list_lines(rows, output_width())))
        if any(r["offline"] for r in rows):
            width = output_width()
            print(OFFLINE_LEGEND if width is None else "\n".join(textwrap.wrap(OFFLINE_LEGEND, width)))
    warn_problems(catalog, unchecked)
    return EXIT_OK


OFFLINE_LEGEND = (f"{OFFLINE_MARK} offline: practise it with no key and no server, on the built-in model (its solution passes "
                  "there, with no judge) or with no model at all; `lab list --offline` lists only those.")


def list_lines(rows: list[dict[str, Any]], width: int | None) -> list[str]:
    """The catalogue grouped by track, each exercise under its short id (which `lab show` takes when it is
    unique), fitted to a terminal's width: skills give up room first, then titles."""
    from collections import Counter

    from lab.practice.report import fitted_table

    names = Counter(r["id"].rpartition("/")[2] for r in rows)
    shown = [r["id"].rpartition("/")[2] if names[r["id"].rpartition("/")[2]] == 1 else r["id"] for r in rows]
    cells = [(name, f"{r['level']}{' ' + OFFLINE_MARK if r.get('offline') else ''}",
              r["title"] if r["lang"] == "en" else f"{r['lang']} · {r['title']}", ", ".join(r["skills"]),
              r["status"], "" if r["best_score"] is None else f"{r['best_score']:.2f}") for name, r in zip(shown, rows)]
    headers = ["ID", "LVL", "TITLE", "SKILLS", "STATUS", "BEST"]
    body = fitted_table(cells, headers, width=width, shrink=[("SKILLS", 16), ("TITLE", 28)], indent=["  "] * len(rows))
    if width is not None and max(map(len, body)) > width:  # skills cut to a stub say nothing: leave them out
        body = fitted_table([c[:3] + c[4:] for c in cells], headers[:3] + headers[4:], width=width,
                            shrink=[("TITLE", 12)], indent=["  "] * len(rows))
    lines = body[:2]
    tracks = Counter(r["track"] for r in rows)
    for n, (r, line) in enumerate(zip(rows, body[2:])):
        if n == 0 or rows[n - 1]["track"] != r["track"]:
            lines.append(f"{r['track']} ({tracks[r['track']]})")
        lines.append(line)
    return lines


def cmd_show(args: argparse.Namespace) -> int:
    from lab.format.messages import render_text
    from lab.practice.learner import case_inputs, you_write
    from lab.practice.report import PREFILL_LEGEND, Paint, conversation_lines

    exercise = load_exercises(args).open(args.id)
    brief = render_text(exercise, "brief") or ""
    system = render_text(exercise, "system") if exercise.writes == "prompt" else None
    inputs = case_inputs(exercise)
    if args.json:
        print_json({
            "id": exercise.id, "title": exercise.title, "track": exercise.track, "level": exercise.level,
            "skills": list(exercise.skills), "lang": exercise.lang, "writes": exercise.writes, "brief": brief,
            "texts": list(exercise.texts), **({"max_turns": exercise.max_turns} if "turns" in exercise.texts else {}),
            "system": system, "starter": render_text(exercise, "starter"), "cases": [c.name for c in exercise.cases],
            "inputs": [{"case": i.name, "vars": i.variables, "system": i.system, "user": i.user,
                        "messages": [m.as_json() for m in i.conversation]} for i in inputs],
            "pass_mark": exercise.rubric.pass_, "hints": len(exercise.hints), "path": str(exercise.path),
            "tools": [{"name": tool.name, "description": tool.description, "parameters": tool.parameters} for tool in exercise.tools],
            **({"tool_rounds": exercise.tool_rounds} if exercise.tools else {}),
        })
        return EXIT_OK
    from lab.settings.i18n import translator

    t = translator(exercise.lang)  # the lab's words around a French exercise are French
    paint = Paint(sys.stdout)
    print(f"# {exercise.title}\n")
    print(f"{exercise.id} · {exercise.track} · " + t.gettext("level {level}").format(level=exercise.level) + f" · {you_write(exercise, t)}\n")
    print(brief)
    if system and not exercise.chat:
        print("\n## " + t.gettext("System prompt set by the exercise") + f"\n\n{system}")
    if exercise.tools:
        from lab.practice.report import tools_lines

        print("\n## " + t.gettext("Tools") + "\n\n" + "\n".join(tools_lines(exercise.tools, paint, t)))
    for i in inputs:
        print("\n## " + t.gettext("Case: {name}").format(name=i.name))
        for name, value in i.variables.items():
            text = str(value)
            print(f"\n{name}:" + (f"\n{text}" if "\n" in text else f" {text}"))
        if exercise.chat:  # the whole conversation the case sends, the learner's texts as placeholders
            print("\n" + "\n".join(conversation_lines(i.conversation, paint, t)))
            continue
        if i.system is not None and exercise.writes != "prompt":
            print(f"\n[system]\n{i.system}")
        if i.user is not None:
            print(f"\n[user]\n{i.user}")
    if any(m.prefill for i in inputs for m in i.conversation):
        print("\n" + paint.dim(t.gettext(PREFILL_LEGEND)))
    hints = t.ngettext("{n} hint(s)", "{n} hint(s)", len(exercise.hints)).format(n=len(exercise.hints))
    print("\n" + t.gettext("Cases: {cases} · pass mark {pass_mark} · {hints}").format(
        cases=", ".join(c.name for c in exercise.cases), pass_mark=f"{exercise.rubric.pass_:.2f}", hints=hints))
    return EXIT_OK


def cmd_hint(args: argparse.Namespace) -> int:
    from lab.practice.learner import reveal_hint
    from lab.settings.i18n import translator

    exercise = load_exercises(args).open(args.id)
    with open_store() as store:
        shown = reveal_hint(store, exercise, args.number)
    if args.json:
        print_json({"exercise": exercise.id, "revealed": shown.revealed, "total": shown.total, "hints": shown.hints})
        return EXIT_OK
    t = translator(exercise.lang)
    # `lab hint ID N` reveals every hint up to N, so it shows every one of them; alone, it shows the one just revealed
    first = 1 if args.number else shown.revealed
    for number in range(first, (args.number or shown.revealed) + 1):
        print(t.gettext("Hint {number}/{total}: {hint}").format(number=number, total=shown.total, hint=shown.hints[number - 1]))
    left = shown.total - shown.revealed
    # English keeps "hint(s)"; a language with its own plural forms picks one by the count revealed
    revealed = t.ngettext("{revealed} of {total} hint(s) revealed", "{revealed} of {total} hint(s) revealed", shown.revealed).format(
        revealed=shown.revealed, total=shown.total)
    print(revealed + (t.gettext("; `lab hint {id}` shows the next.").format(id=exercise.id) if left else "."))
    return EXIT_OK


def cmd_solution(args: argparse.Namespace) -> int:
    from lab.practice.learner import NotYetPassed, solution_after_pass

    exercise = load_exercises(args).open(args.id)
    with open_store() as store:
        try:
            solution = solution_after_pass(store, exercise)
        except NotYetPassed as exc:
            print(f"lab: {exc}", file=sys.stderr)
            return EXIT_NOT_PASSED
    print(solution)
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from lab.practice.learner import history
    from lab.practice.report import score_label, table

    entry = load_exercises(args).find(args.id)
    with open_store() as store:
        records = history(store, entry.id)
    rows = [{"id": r.id, "started_at": r.started_at, "status": r.status,
             "score": None if r.score is None else round(r.score, 4), "passed": r.passed, "model": r.model,
             "cached": bool((r.result or {}).get("cached"))} for r in records]
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        print(f"No attempts at {entry.id} yet.")
        return EXIT_OK
    marks = {r.id: float((r.result or {}).get("pass_mark", 1.0)) for r in records}
    print("\n".join(table(
        [(f"#{r['id']}", r["started_at"], r["status"].replace("_", " ") + (" · passed" if r["passed"] else "")
          + (" · cached" if r["cached"] else ""),
          "" if r["score"] is None else score_label(r["score"], bool(r["passed"]), marks[r["id"]]), r["model"]) for r in rows],
        ["ID", "TIME", "STATUS", "SCORE", "MODEL"],
    )))
    if any(r["cached"] for r in rows):
        print("cached: answered from the response cache (no call, nothing charged); `lab run --no-cache` asks the model again.")
    return EXIT_OK


class OrderedStream:
    """Streams one call at a time to the terminal while the others run, buffering theirs until their turn."""

    def __init__(self, slots: list[tuple[str, int]], stream: TextIO, samples: int, paint: Any, tr: Any = ENGLISH,
                 preambles: dict[str, str] | None = None, turns: dict[str, tuple[str, ...]] | None = None,
                 tool_cases: frozenset[str] = frozenset()):
        self.slots, self.stream, self.samples, self.paint = slots, stream, samples, paint
        self.tr = tr  # the exercise's language, for "sample N"
        # a case shown as a conversation: what comes before its answer streams, and the learner's messages
        self.preambles, self.turns = preambles or {}, turns or {}
        self.buffers: dict[tuple[str, int], list[str]] = {s: [] for s in slots}
        self.done: set[tuple[str, int]] = set()
        self.current = 0
        self.lock = threading.Lock()
        self.started = False
        # a case with tools: the answer's label is written before the model's next words, after its calls
        self.label_due = {s for s in slots if s[0] in tool_cases}
        self.line_start = {s: True for s in slots}
        self.collapsed = False  # a tool's result was shown on one line, clipped

    def tool(self, case: str, sample: int, message: Any) -> None:
        """The model's calls, or a tool's answer (on one line): in the case's stream, in order."""
        from lab.practice.report import collapsed, tool_lines

        key = (case, sample)
        if message.role == "tool" and collapsed(message.content):
            self.collapsed = True
        lines = tool_lines(message, self.paint, self.tr)
        self.delta(case, sample, ("" if self.line_start.get(key, True) else "\n") + "\n".join(lines) + "\n", label=False)
        self.label_due.add(key)
    def _header(self, index: int) -> None:
        if index < len(self.slots):
            case, sample = self.slots[index]
            label = case if self.samples == 1 else f"{case} · " + self.tr.gettext("sample {n}").format(n=sample + 1)
            self.stream.write(self.paint.dim(f"── {label} ──") + "\n" + self.preambles.get(case, ""))
            self.stream.flush()

    def turn(self, case: str, sample: int, index: int) -> None:
        """A message the learner wrote is about to be sent: it goes in the case's stream, then its answer."""
        from lab.format.conversation import Message
        from lab.practice.report import message_label

        text = self.turns.get(case, ())[index] if index < len(self.turns.get(case, ())) else ""
        you = self.paint.bold("[" + message_label(Message("user", text, "learner"), self.tr) + "]")
        answer = self.paint.bold("[" + message_label(Message("assistant", "", "model"), self.tr) + "]")
        self.delta(case, sample, ("\n" if index else "") + f"{you}\n{text}\n{answer}\n")

    def delta(self, case: str, sample: int, text: str, label: bool = True) -> None:
        with self.lock:
            key = (case, sample)
            if label and key in self.label_due and text:
                from lab.format.conversation import Message
                from lab.practice.report import message_label

                self.label_due.discard(key)
                text = self.paint.bold("[" + message_label(Message("assistant", "", "model"), self.tr) + "]") + "\n" + text
            if text:
                self.line_start[key] = text.endswith("\n")
            if not self.started:
                self.started = True
                self._header(0)
            if self.current < len(self.slots) and self.slots[self.current] == key:
                self.stream.write(text)
                self.stream.flush()
            else:
                self.buffers[key].append(text)

    def finished(self, case: str, sample: int, text: str) -> None:
        with self.lock:
            if not self.started:
                self.started = True
                self._header(0)
            self.done.add((case, sample))
            while self.current < len(self.slots) and self.slots[self.current] in self.done:
                self.stream.write("\n")
                self.current += 1
                self._header(self.current)
                if self.current < len(self.slots):
                    self.stream.write("".join(self.buffers[self.slots[self.current]]))
                self.stream.flush()


def conversation_preambles(exercise: Any, plans: list[Any], paint: Any, t: Any) -> dict[str, str]:
    """For a case shown as a conversation: its messages before the (first) answer, and the answer's
    label with its prefill, marked, where the model's words will stream."""
    from lab.format.conversation import Message
    from lab.practice.report import conversation_lines, message_label

    found = {}
    for plan in plans:
        lines = conversation_lines(plan.opening, paint, t)
        if not plan.learner_turns and plan.toolbox is None:  # with tools, the label waits for the model's words
            lines.append(paint.bold("[" + message_label(Message("assistant", "", "model"), t) + "]"))
        text = "\n".join(lines) + "\n" if lines else ""
        found[plan.case] = text + (paint.prefill(plan.prefill) if plan.prefill else "")
    return found


def cmd_run(args: argparse.Namespace) -> int:
    from lab.errors import LabError

    if args.samples is not None and not 1 <= args.samples <= 20:
        raise LabError("--samples must be between 1 and 20.")
    exercise = load_exercises(args).open(args.id)
    text = read_texts(args, exercise)
    models = models_of(args)
    if len(models) < 2:
        code, _, data = run_one(args, exercise, text, None)
        if args.json and data is not None:
            print_json(data)
        return code
    return run_on_models(args, exercise, text, models)


def run_on_models(args: argparse.Namespace, exercise: Any, text: str, models: list[str]) -> int:
    """`lab run ID --model A --model B`: the same text on each model, one attempt each, streamed one after
    the other, then how each attempt compares with the first. Every model is graded by the same judge
    (--judge-model, else the first model), so that a difference in grade is a difference in answers."""
    from lab.errors import LabError
    from lab.practice.compare import compare_attempts, comparison_lines
    from lab.practice.report import Paint, output_width
    from lab.settings.i18n import translator

    if exercise.writes == "answer":
        raise LabError(f"{exercise.id} grades your own answer (writes: answer): no model writes it, so there is nothing "
                       "to run on several models; give --model once, for its judge.")
    if len(set(models)) < len(models):
        raise LabError("The same model is given twice with --model: give each model once.")
    t = translator(exercise.lang)
    out = sys.stderr if args.json else sys.stdout
    paint = Paint(out)
    first_judge = None
    runs: list[dict[str, Any]] = []
    outcomes = []
    code = EXIT_OK
    for n, model in enumerate(models):
        print(paint.bold(f"══ {model} " + t.gettext("({n} of {total})").format(n=n + 1, total=len(models)) + " ══"), file=out)
        result_code, outcome, data = run_one(args, exercise, text, model, judge_override=first_judge)
        if n == 0 and outcome is not None:
            first_judge = outcome.judge_config
        if data is not None:
            runs.append(data)
        if outcome is not None:
            outcomes.append(outcome)
        code = max(code, result_code) if result_code in (EXIT_OK, EXIT_NOT_PASSED, EXIT_BAD) else result_code
        if result_code == 130:  # Ctrl-C stops the other models too
            break
        print(file=out)
    comparisons = []
    with open_store() as store:
        graded = [store.attempt(o.attempt_id) for o in outcomes]
        for other in graded[1:]:
            comparisons.append(compare_attempts(graded[0], other))
    if args.json:
        print_json({"exercise": exercise.id, "models": models, "runs": runs, "comparisons": [c.to_dict() for c in comparisons]})
    else:
        p = Paint(sys.stdout)
        for comparison in comparisons:
            print("\n".join(comparison_lines(comparison, p, output_width() or 100, t)))
            print()
    return code


class RunResult:
    """What `run_one` hands back besides its exit code: the attempt and the judge it was graded by."""

    def __init__(self, attempt_id: int, judge_config: Any):
        self.attempt_id, self.judge_config = attempt_id, judge_config


def run_one(args: argparse.Namespace, exercise: Any, text: str, model: str | None,
            judge_override: Any = None) -> tuple[int, RunResult | None, dict[str, Any] | None]:
    """One attempt with `model` (None: --model as given), streamed and graded, its result printed (the
    JSON shape returned instead under --json). Returns (exit code, the attempt, its JSON)."""
    from lab.errors import CancelledError, ModelError
    from lab.practice.attempts import cut_off_notice, empty_notice, rounds_notice, run_attempt
    from lab.practice.report import Paint, grade_lines
    from lab.settings.i18n import translator

    settings, config, judge = call_configs(args, exercise, model)
    if judge_override is not None and not settings.judge_model:
        judge = judge_override
    out = sys.stderr if args.json else sys.stdout
    paint = Paint(out)
    samples = args.samples or exercise.rubric.samples
    slots = [(c.name, s) for c in exercise.cases for s in range(samples)]
    t = translator(exercise.lang)
    preambles, turns = {}, {}
    tool_cases: frozenset[str] = frozenset(c.name for c in exercise.cases) if exercise.tools else frozenset()
    if exercise.chat:
        from lab.format.messages import build_messages

        plans = build_messages(exercise, text)  # PromptError: nothing is recorded, the text is where it came from
        preambles = conversation_preambles(exercise, plans, paint, t)
        turns = {p.case: p.turns for p in plans}
    stream = OrderedStream(slots, out, samples, paint, t, preambles, turns, tool_cases)
    answering = exercise.writes == "answer"
    from lab.models import llm

    library_was_loaded = llm.is_loaded()  # said once, apart, when this run is the one that loads it
    with open_store() as store:
        estimate = cost_allows(args, exercise, text, samples, settings, config, judge, store, out, paint, t)
        if estimate is None:
            return EXIT_BAD, None, None
        try:
            outcome = run_attempt(
                exercise, text, config=config, store=store, samples=samples, judge_config=judge,
                hints_used=store.hints_revealed(exercise.id),  # what the TUI records too: hints taken before this try
                concurrency=settings.concurrency,
                # an answer is the learner's own text: nothing streams, there is nothing to echo
                on_delta=None if answering else stream.delta, on_output=None if answering else stream.finished,
                on_turn=stream.turn, on_tool=stream.tool,
                on_notice=lambda notice: print(paint.warn("lab: " + notice), file=out, flush=True),
            )
        except (ModelError, CancelledError) as exc:
            if stream.started:
                out.write("\n")
            failed = {"exercise": exercise.id, "model": config.model if config else None, "error": str(exc),
                      "kind": getattr(exc, "kind", "cancelled"), "attempt_id": last_attempt_id(store, exercise.id)}
            print(f"lab: {exc}", file=sys.stderr)
            print(paint.dim(spent_line(store, settings, t)), file=out)  # a failed call may have used tokens
            # Ctrl-C ends like any interrupted command (130); the attempt is recorded as cancelled
            return (130 if isinstance(exc, CancelledError) else EXIT_BAD), None, failed
        from lab.practice.spending import spent

        now_spent = spent(store)
        after = now_spent.summary(settings.max_cost, t)
    code = EXIT_OK if outcome.grade.passed else EXIT_NOT_PASSED
    done = RunResult(outcome.attempt_id, judge)
    if args.json:
        # beside the attempt's own shape (what the store keeps): what it was expected to cost, and the totals now
        print(paint.dim(after), file=out)
        return code, done, {**outcome.to_dict(),
                            "estimate": {"calls": estimate.calls, "judge_calls": estimate.judge_calls, "prompt_tokens": estimate.prompt_tokens,
                                         "cost_usd": None if estimate.cost_usd is None else round(estimate.cost_usd, 6)},
                            "spent": {"session_usd": round(now_spent.session_usd, 6), "today_usd": round(now_spent.today_usd, 6),
                                      "max_cost": settings.max_cost}}
    p = Paint(sys.stdout)
    result = outcome.to_dict()
    if not answering:
        print()
    for notice in (cut_off_notice(result, exercise.meta.model.max_tokens, t), rounds_notice(result, exercise.tool_rounds, t),
                   empty_notice(result, t)):
        if notice:
            print(p.warn(notice))
    if stream.collapsed:
        print(p.dim(t.gettext("A tool's result is shown on one line; `lab attempt {id} --open` shows each one whole.").format(
            id=outcome.attempt_id)))
    if any(plan_prefill for plan_prefill in preambles.values() if "⟦" in plan_prefill):
        from lab.practice.report import PREFILL_LEGEND

        print(p.dim(t.gettext(PREFILL_LEGEND)))
    print("\n".join(grade_lines(result, p, t)))
    print(p.dim(usage_line(outcome, t)))
    if not library_was_loaded and llm.load_seconds() >= 0.5:
        print(p.dim(t.gettext("(the model library took {seconds} s to load first; that is not in the time above)").format(
            seconds=f"{llm.load_seconds():.1f}")))
    print(p.dim(after))
    return code, done, None


def usage_line(outcome: Any, t: Any) -> str:
    """Tokens, dollars, time and the attempt's number; for an answer (no model called) or an attempt the
    cache answered, what was (not) used instead of rows of zeros."""
    attempt = t.gettext("attempt #{id}").format(id=outcome.attempt_id)
    u = outcome.usage
    if outcome.exercise.writes == "answer" and not outcome.calls:
        return t.gettext("graded as written: no model was called") + f" · {attempt}"
    if outcome.cached:
        return t.gettext("answered from the response cache: no call, $0.0000") + f" · {attempt} · " + \
            t.gettext("--no-cache asks the model again")
    tokens = t.gettext("{prompt} prompt + {completion} completion tokens").format(prompt=u.prompt_tokens, completion=u.completion_tokens)
    return f"{tokens} · ${u.cost_usd:.4f} · {outcome.duration_s:.1f} s · {attempt}"


def cost_allows(args: argparse.Namespace, exercise: Any, text: str, samples: int, settings: Any, config: Any, judge: Any,
                store: Any, out: TextIO, paint: Any, t: Any) -> Any:
    """Print the estimate; over the daily cap, ask on a terminal (or go on with --yes). Returns the
    estimate to send, or None to send nothing.

    A declined attempt is not recorded: nothing was tried, and the prompt is still where it came from."""
    from lab.practice.spending import check_cap, estimate_attempt, spent

    judge_config = judge or config  # counted only where a criterion asks a judge (estimate_attempt knows which)
    estimate = estimate_attempt(exercise, text, model=config.model if config is not None else None, samples=samples,
                                judge_model=judge_config.model if judge_config is not None else None)
    if estimate.calls or estimate.judge_calls:  # an answer graded without a model costs nothing to estimate
        print(paint.dim(estimate.summary(t)), file=out)
    check = check_cap(spent(store).today_usd, estimate.cost_usd, settings.max_cost)
    if check is None or not check.over or args.yes:
        return estimate
    return estimate if confirm_over_cap(check, t) else None


def confirm_over_cap(check: Any, t: Any) -> bool:
    """Ask on a terminal whether to send past the daily cap; without one, a LabError saying --yes."""
    from lab.errors import LabError

    if not _is_terminal(sys.stdin):
        raise LabError(t.gettext("{reason}: nothing was sent; pass --yes to send anyway, or raise LAB_MAX_COST.").format(
            reason=check.message(t)))
    print(t.gettext("{reason}. Send anyway? [y/N] ").format(reason=check.message(t)), end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer in ("y", "yes", t.gettext("y"), t.gettext("yes")):
        return True
    print("lab: " + t.gettext("Nothing was sent."), file=sys.stderr)
    return False


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (ValueError, OSError):  # closed or detached
        return False


def spent_line(store: Any, settings: Any, t: Any) -> str:
    from lab.practice.spending import spent

    return spent(store).summary(settings.max_cost, t)


def cmd_attempt(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from lab.practice.attempts import output_note
    from lab.practice.judging import stored_exchanges
    from lab.practice.learner import attempt_by_ref
    from lab.practice.report import Paint, score_label
    from lab.settings.i18n import translator

    with open_store() as store:
        record = attempt_by_ref(store, args.attempt_id)
    exchanges = stored_exchanges(record.result)
    if args.json:
        print_json({**asdict(record), "judge_exchanges": exchanges})
        return EXIT_OK
    entry = load_exercises(args).entry(record.exercise_id)
    t = translator(entry.lang if entry is not None else "en")  # the words around the attempt in its exercise's language
    paint = Paint(sys.stdout)
    result = record.result or {}
    status = {"graded": t.gettext("graded"), "failed": t.gettext("failed"), "cancelled": t.gettext("cancelled"),
              "interrupted": t.gettext("interrupted"), "not_sent": t.gettext("not sent"),
              "running": t.gettext("unfinished")}.get(record.status, record.status)
    score = ""
    if record.score is not None:
        shown = score_label(record.score, bool(record.passed), float(result.get("pass_mark", 1.0)))
        score = " · " + t.gettext("score {score}").format(score=shown) + " · " + (t.gettext("passed") if record.passed else t.gettext("not passed"))
    if result.get("cached"):
        score += " · " + t.gettext("cached")
    heading = t.gettext("Attempt #{id}").format(id=record.id)
    print(paint.bold(f"{heading} · {record.exercise_id} · {record.model} · {status}{score}"))
    details = [record.started_at,
               t.ngettext("{n} sample", "{n} samples", record.samples).format(n=record.samples),
               t.ngettext("{n} hint", "{n} hints", record.hints_used).format(n=record.hints_used),
               t.gettext("{prompt} prompt + {completion} completion tokens").format(prompt=record.prompt_tokens,
                                                                                  completion=record.completion_tokens),
               f"${record.cost_usd:.4f}"]
    print(paint.dim(" · ".join(details)))
    if record.error:
        print(paint.bad(t.gettext("error: {error}").format(error=record.error)))
    if record.texts:  # several texts, a prefill or turns: each under its name
        from lab.format.conversation import join_turns
        from lab.practice.learner import text_heading

        for name, value in record.texts.items():
            print(f"\n## {text_heading(name, t)}\n\n{join_turns(value) if isinstance(value, list) else value}")
    else:
        from lab.practice.attempts import ANSWER_MODEL

        heading = t.gettext("Your answer") if record.model == ANSWER_MODEL else t.gettext("Prompt")
        print(f"\n## {heading}\n\n{record.prompt}")
    from lab.practice.report import collapsed

    prefilled = collapsed_results = False
    for case in result.get("cases", []):
        outputs = case.get("outputs", [])
        conversations = case.get("conversations") or []
        for n, output in enumerate(outputs, 1):
            label = case["name"] if len(outputs) == 1 else f"{case['name']} · " + t.gettext("sample {n}").format(n=n)
            note = output_note(case, n - 1, t)
            if n <= len(conversations):
                from lab.format.conversation import Transcript
                from lab.practice.report import conversation_lines

                transcript = Transcript.from_json(conversations[n - 1])
                prefilled = prefilled or any(m.prefill for m in transcript.messages)
                collapsed_results = collapsed_results or (not args.open and any(
                    m.role == "tool" and collapsed(m.content) for m in transcript.messages))
                if transcript.rounds_spent and not note:
                    note = t.gettext("cut off: still calling tools when the rounds ran out")
                print("\n## " + t.gettext("Conversation: {case}").format(case=label) + (f" ({note})" if note else "") + "\n\n"
                      + "\n".join(conversation_lines(transcript.messages, paint, t, opened=args.open)))
            else:
                print("\n## " + t.gettext("Output: {case}").format(case=label) + (f" ({note})" if note else "") + f"\n\n{output}")
    if prefilled:
        from lab.practice.report import PREFILL_LEGEND

        print("\n" + paint.dim(t.gettext(PREFILL_LEGEND)))
    if collapsed_results:
        print("\n" + paint.dim(t.gettext("Each tool's result is shown on one line; `lab attempt {id} --open` shows them whole.").format(
            id=record.id)))
    if result.get("criteria"):
        from lab.practice.report import grade_lines

        print("\n## " + t.gettext("Grade") + "\n")
        print("\n".join(grade_lines(result, paint, t)))
    for e in exchanges:
        where = e["case"] if e["case"] != "*" else t.gettext("all cases")
        head = t.gettext("Judge · {criterion} · {where} #{sample} · {model} ({route}) · try {n}").format(
            criterion=e["criterion"], where=where, sample=e["sample"] + 1, model=e["model"], route=e["route"], n=e["try"])
        print(paint.bold(f"\n## {head}"))
        for m in e["messages"]:
            print(paint.dim(f"[{m.get('role')}]") + f"\n{m.get('content')}")
        print(paint.dim("[" + t.gettext("judge answer") + "]") + f"\n{e['answer']}")
        if e.get("problem") and e["try"] == 2:
            print(paint.warn(t.gettext("unusable: {problem}").format(problem=e["problem"])))
    return EXIT_OK


def cmd_progress(args: argparse.Namespace) -> int:
    from lab.practice.mastery import MASTERED, infos_from_catalog, mastery, tries_from_attempts
    from lab.practice.report import score_label, table

    catalog, unchecked = load_checked_exercises(args)
    with open_store() as store:
        progress = store.progress()
        learnt = mastery(infos_from_catalog(catalog.exercises), tries_from_attempts(store.attempts()))
    tracks: dict[str, dict[str, Any]] = {}
    for e in catalog.exercises:
        t = tracks.setdefault(e.track, {"track": e.track, "exercises": 0, "passed": 0, "attempts": 0, "items": []})
        p = progress.get(e.id)
        t["exercises"] += 1
        t["passed"] += bool(p and p.passed)
        t["attempts"] += p.attempts if p else 0
        t["items"].append({"id": e.id, "title": e.title, "level": e.level, "attempts": p.attempts if p else 0,
                           "best_score": None if p is None or p.best_score is None else round(p.best_score, 4),
                           "passed": bool(p and p.passed)})
    if args.json:
        print_json({"tracks": [{**{k: v for k, v in t.items() if k != "items"}, "exercises_list": t["items"]} for t in tracks.values()],
                    "mastery": mastery_json(learnt)})
        return EXIT_OK
    bands = {m.track: m for m in learnt.tracks}
    for t in tracks.values():
        share = t["passed"] / t["exercises"] if t["exercises"] else 0
        bar = "█" * round(share * 20) + "░" * (20 - round(share * 20))
        m = bands.get(t["track"])
        # below the bar a mastery is rounded down: 0.847 "practising" never reads as the 0.85 of "mastered"
        standing = f" · {m.band} ({score_label(m.mastery, m.mastery >= MASTERED, MASTERED)})" if m else ""
        print(f"{t['track']}  {bar}  {t['passed']}/{t['exercises']} passed · {t['attempts']} attempt(s){standing}")
        rows = [(i["id"], i["level"], i["attempts"], "" if i["best_score"] is None else f"{i['best_score']:.2f}", "yes" if i["passed"] else "")
                for i in t["items"] if i["attempts"]]
        if rows:
            print("\n".join("  " + line for line in table(rows, ["ID", "LVL", "ATTEMPTS", "BEST", "PASSED"])))
        print()
    if learnt.next is not None:
        print(f"Next: {learnt.next.exercise}. {learnt.next.reason}")
    elif learnt.tracks:
        print("Every exercise is passed.")
    warn_problems(catalog, unchecked)
    return EXIT_OK


def mastery_json(report: Any) -> dict[str, Any]:
    """`lab progress --json`'s "mastery" (docs/mastery.md)."""
    return {
        "tracks": [{"track": t.track, "mastery": round(t.mastery, 4), "band": t.band, "passed": t.passed, "exercises": t.exercises}
                   for t in report.tracks],
        "skills": [{"skill": s.skill, "mastery": round(s.mastery, 4), "band": s.band} for s in report.skills],
        "next": None if report.next is None else {"exercise": report.next.exercise, "reason": report.next.reason},
    }
