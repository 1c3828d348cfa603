"""What practising from the command line needs beyond an attempt: each case's input, hints revealed
one at a time (recorded in the store exactly as the TUI's `h` records them), the model solution once
passed, and an exercise's history. The CLI prints these; the engine decides them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.errors import LabError
from lab.format.conversation import Message
from lab.format.exercise import Exercise
from lab.format.messages import plan_case, render_text, text_blocks, what_text
from lab.practice.store import AttemptRecord, Store
from lab.settings.i18n import translator


@dataclass(frozen=True)
class CaseInput:
    """One case as the model will see it: the data the learner's text can place, and the messages the
    exercise itself sets (the learner's text shown as a placeholder)."""

    name: str
    variables: dict[str, Any]
    system: str | None
    user: str | None
    conversation: tuple[Message, ...] = ()  # everything the case sends, the learner's texts as placeholders


def placeholders(exercise: Exercise) -> dict[str, Any]:
    """What stands for each of the learner's texts when a case is shown before anything is written."""
    t = translator(exercise.lang)
    words = {"system": t.gettext("«your system prompt»"), "prompt": t.gettext("«your prompt»"),
             "prefill": t.gettext("«your prefill»"), "answer": t.gettext("«your answer»")}
    found: dict[str, Any] = {}
    for name in exercise.texts:
        if name == "turns":
            found[name] = [t.ngettext("«your messages: each is sent after the model answered the one before (at most {n})»",
                                      "«your messages: each is sent after the model answered the one before (at most {n})»",
                                      exercise.max_turns).format(n=exercise.max_turns)]
        else:
            found[name] = words[name]
    return found


def case_inputs(exercise: Exercise) -> list[CaseInput]:
    """Each case's input. Variables starting with `_` are the rubric's (expected answers) and are left out,
    as they are from the learner's own text."""
    shown = placeholders(exercise)
    # what stands for the learner's text when a case's messages are shown before anything is written
    placeholder = shown[exercise.main_text][0] if exercise.main_text == "turns" else shown[exercise.main_text]
    inputs = []
    for case in exercise.cases:
        variables = exercise.variables(case.name, placeholder, shown, preview=True)
        system = exercise.compiled.render_block("system", variables) if "system" in exercise.blocks else None
        user = exercise.compiled.render_block("user", variables) if "user" in exercise.blocks else None
        own = {k: v for k, v in case.vars.items() if not k.startswith("_")}
        plan = plan_case(exercise.meta, exercise.compiled, exercise.root, case.name, shown, preview=True)
        inputs.append(CaseInput(case.name, own, system, user, plan.preview()))
    return inputs


@dataclass(frozen=True)
class HintsShown:
    revealed: int  # how many hints the store now records as revealed
    total: int
    hints: list[str]  # the revealed hints, in order


def reveal_hint(store: Store, exercise: Exercise, number: int | None = None) -> HintsShown:
    """Reveal the next hint, or every hint up to `number` (1-based), and record it as the TUI does."""
    t = translator(exercise.lang)
    total = len(exercise.hints)
    if not total:
        raise LabError(t.gettext("{id} has no hints.").format(id=exercise.id))
    if number is not None and not 1 <= number <= total:
        raise LabError(t.ngettext("{id} has {total} hint(s): ask for a number from 1 to {total}.",
                                  "{id} has {total} hint(s): ask for a number from 1 to {total}.", total).format(id=exercise.id, total=total))
    revealed = store.hints_revealed(exercise.id)
    if number is None:
        revealed = store.reveal_hint(exercise.id, total)
    else:
        while revealed < number:
            revealed = store.reveal_hint(exercise.id, total)
    return HintsShown(revealed, total, list(exercise.hints[:revealed]))


class NotYetPassed(LabError):
    """The solution was asked for before the exercise was passed."""


def solution_after_pass(store: Store, exercise: Exercise) -> str:
    """The model solution, only once the learner has passed the exercise (each text under its name when
    the learner writes several)."""
    t = translator(exercise.lang)
    progress = store.progress().get(exercise.id)
    if progress is None or not progress.passed:
        mark = f"{exercise.rubric.pass_:.2f}"
        if progress is None or progress.best_score is None:
            raise NotYetPassed(t.gettext("The solution of {id} opens once you pass it: pass mark {pass_mark}.").format(
                id=exercise.id, pass_mark=mark))
        raise NotYetPassed(t.gettext("The solution of {id} opens once you pass it: pass mark {pass_mark} (best so far {best}).").format(
            id=exercise.id, pass_mark=mark, best=f"{progress.best_score:.2f}"))
    solution = solution_text(exercise)
    if not solution:
        raise LabError(t.gettext("{id} has no model solution.").format(id=exercise.id))
    return solution


def solution_text(exercise: Exercise) -> str | None:
    """The model solution as one text: the `solution` block, or each text's under its heading when the
    learner writes several (`solution_system`, `solution_prompt`...)."""
    t = translator(exercise.lang)
    texts = text_blocks(exercise, "solution")
    if len(exercise.texts) == 1 or not texts:
        return render_text(exercise, "solution") or None
    return "\n\n".join(f"## {text_heading(name, t)}\n\n{value}" for name, value in texts.items())


def you_write(exercise: Exercise, tr: Any = None) -> str:
    """What the learner writes, in a few words ("you write the system prompt and the prompt")."""
    t = tr if tr is not None else translator("en")
    if exercise.texts == ("turns",):
        return t.ngettext("you write the messages (at most {n})", "you write the messages (at most {n})", exercise.max_turns).format(
            n=exercise.max_turns)
    if len(exercise.texts) == 1:
        alone = {"system": t.gettext("you write the system prompt"), "answer": t.gettext("you write the answer"),
                 "prefill": t.gettext("you write the prefill (the start of the answer)")}
        return alone.get(exercise.texts[0], t.gettext("you write the prompt"))
    words = {"system": t.gettext("the system prompt"), "prompt": t.gettext("the prompt"), "prefill": t.gettext("the prefill")}
    return t.gettext("you write {texts}").format(texts=t.gettext(" and ").join(words[n] for n in exercise.texts))


def text_heading(name: str, tr: Any = None) -> str:
    """The heading of one of the learner's texts ("Your system prompt")."""
    t = tr if tr is not None else translator("en")
    words = {"system": t.gettext("Your system prompt"), "prompt": t.gettext("Your prompt"), "prefill": t.gettext("Your prefill"),
             "answer": t.gettext("Your answer"), "turns": t.gettext("Your messages")}
    return words.get(name, what_text(name))


def history(store: Store, exercise_id: str) -> list[AttemptRecord]:
    """An exercise's attempts, newest first."""
    return store.attempts(exercise_id)


def attempt_by_ref(store: Store, ref: str) -> AttemptRecord:
    """An attempt by its number, or `last` for the newest one."""
    if ref.strip().lower() == "last":
        newest = store.attempts(limit=1)
        if not newest:
            raise LabError("No attempts yet: `lab run ID --prompt ...` records one.")
        return newest[0]
    try:
        number = int(ref.strip().lstrip("#"))
    except ValueError:
        raise LabError(f"'{ref}' is not an attempt: give its number (as `lab run` prints it) or `last`.") from None
    try:
        return store.attempt(number)
    except LabError:
        newest = store.attempts(limit=1)
        if not newest:
            raise LabError(f"No attempt #{number}: there are no attempts yet.") from None
        raise LabError(f"No attempt #{number}: attempts go from #1 to #{newest[0].id} (`last` is the newest; "
                       "`lab history ID` lists an exercise's).") from None
