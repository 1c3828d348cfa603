"""The texts of an exercise, rendered: the brief and friends, and the conversation each case sends.

A case sends, in order: the system prompt (the exercise's block, or the learner's), the earlier turns
(`turns:`), the user message (the exercise's block, or the learner's prompt) and the prefill (the
exercise's block, or the learner's) as a final assistant message the model continues. With
`writes: turns` the learner's messages replace the user message and are sent one per call.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from jinja2.exceptions import TemplateError

from lab.errors import PromptError
from lab.format.conversation import CasePlan, Message, split_turns
from lab.format.exercise import TEXT_NAMES, Exercise, FrontMatter, block_variables, main_text, written_texts
from lab.format.templating import CompiledExercise, render_learner_text, render_string, root_environment

CaseMessages = CasePlan  # the name callers knew before conversations: one case's messages
LearnerTexts = dict[str, Any]  # name -> text (`turns` -> a list of texts)

_WHAT = {"system": "system prompt", "prompt": "prompt", "prefill": "prefill", "answer": "answer"}


def render_text(exercise: Exercise, block: str) -> str | None:
    """An exercise-level block (brief, starter, solution, or a fixed system prompt), or None."""
    return exercise.compiled.render_block(block, exercise.variables(None, ""))


def text_blocks(exercise: Exercise, kind: str) -> LearnerTexts:
    """The exercise's `starter` or `solution` for each text the learner writes: `{kind}_{name}` blocks,
    and the plain block for the main text (for `writes: turns`, split into messages at `---` lines)."""
    found: LearnerTexts = {}
    for name in exercise.texts:
        own = render_text(exercise, f"{kind}_{name}") if name in TEXT_NAMES else None
        if own is None and name == exercise.main_text:
            own = render_text(exercise, kind)
        if own is not None:
            found[name] = split_turns(own) if name == "turns" else own
    return found


def what_text(name: str) -> str:
    """A learner text's name in words ("system prompt")."""
    return _WHAT.get(name, "messages" if name == "turns" else name)


def learner_texts(exercise: Exercise, given: str | list[str] | Mapping[str, Any]) -> LearnerTexts:
    """The learner's texts by name, checked against what the exercise has them write; PromptError names
    what is missing, empty, unknown or too many. A plain string is the one text of a single-text exercise
    (for `writes: turns`, its messages separated by lines holding only `---`)."""
    names = exercise.texts
    if isinstance(given, (list, tuple)) and names == ("turns",):
        given = {"turns": list(given)}
    if isinstance(given, str):
        if len(names) > 1:
            raise PromptError(f"This exercise takes several texts ({', '.join(what_text(n) for n in names)}): give each of them.")
        given = {names[0]: given}
    unknown = [n for n in given if n not in names]
    if unknown:
        raise PromptError(f"This exercise does not take a {what_text(unknown[0])}: you write the "
                          f"{' and the '.join(what_text(n) for n in names)}.")
    missing = [n for n in names if n not in given]
    if missing:
        raise PromptError(f"This exercise also needs your {' and '.join(what_text(n) for n in missing)}.")
    texts: LearnerTexts = {}
    for name in names:
        value = given[name]
        if name == "turns":
            turns = split_turns(value) if isinstance(value, str) else [str(t).strip() for t in value if str(t).strip()]
            if not turns:
                raise PromptError("Your conversation has no message: write at least one (separate messages with a line holding only ---).")
            if len(turns) > exercise.max_turns:
                raise PromptError(f"You wrote {len(turns)} messages; this exercise takes at most {exercise.max_turns}.")
            texts[name] = turns
            continue
        text = str(value)
        if not text.strip():
            raise PromptError(f"Your {what_text(name)} is empty: write one before sending.")
        texts[name] = text
    return texts


def main_of(texts: LearnerTexts, names: tuple[str, ...]) -> str:
    """The learner's main text of `texts` as one string (what an attempt keeps as its `prompt`)."""
    from lab.format.conversation import join_turns

    value = texts.get(main_text(names), "")
    return join_turns(value) if isinstance(value, list) else str(value)


def build_messages(exercise: Exercise, learner: str | list[str] | Mapping[str, Any]) -> list[CasePlan]:
    """The conversation of every case for the learner's text(s); raises PromptError on bad text."""
    texts = learner_texts(exercise, learner)
    plans = []
    for case in exercise.cases:
        variables = exercise.learner_variables(case.name)
        rendered: LearnerTexts = {}
        for name, value in texts.items():
            if isinstance(value, list):
                rendered[name] = [render_learner_text(t, variables, case.name) for t in value]
            else:
                rendered[name] = render_learner_text(value, variables, case.name)
        plans.append(plan_case(exercise.meta, exercise.compiled, exercise.root, case.name, rendered))
    return plans


def plan_case(meta: FrontMatter, compiled: CompiledExercise, root: Any, case_name: str, rendered: LearnerTexts,
              preview: bool = False, incoming: Sequence[str] | None = None) -> CasePlan:
    """One case's conversation for texts already rendered for it (the loader and `lab show` use it with
    placeholders; `preview` tells the blocks so). `incoming`: messages another learner wrote (an arena's
    attacker, `pairing.into: turns`), sent one per call in place of the user message."""
    names = written_texts(meta.writes)
    main = main_text(names)
    attempt_value = rendered.get(main, "")
    attempt = attempt_value[0] if isinstance(attempt_value, list) else str(attempt_value)
    variables = block_variables(meta, case_name, attempt, rendered, preview)
    system_block = _exercise_block(compiled, "system", variables, case_name)
    user_block = _exercise_block(compiled, "user", variables, case_name)
    prefill_block = _exercise_block(compiled, "prefill", variables, case_name)

    opening: list[Message] = []
    if "system" in rendered:
        system = system_block if system_block is not None else str(rendered["system"])
        if system:
            opening.append(Message("system", system, "learner" if system_block is None else "exercise", "system"))
    elif system_block:
        opening.append(Message("system", system_block))

    case = next(c for c in meta.cases if c.name == case_name)
    turns = case.turns if case.turns is not None else meta.turns
    env = root_environment(root)
    for turn in turns:
        content = turn.content
        if "{" in content:
            try:
                content = render_string(env, content, variables).strip()
            except TemplateError as exc:
                raise PromptError(f"The exercise's earlier turns cannot be made for case '{case_name}': {str(exc).rstrip('.')}.") from None
        opening.append(Message(turn.role, content))  # type: ignore[arg-type]

    learner_turns = "turns" in names or incoming is not None
    if not learner_turns:
        if "prompt" in rendered:
            user = user_block if user_block is not None else str(rendered["prompt"])
            opening.append(Message("user", user, "learner" if user_block is None else "exercise", "prompt"))
        else:
            # `writes: answer` never sends it; the loader makes every other shape supply a user block
            opening.append(Message("user", user_block if user_block is not None else attempt))

    if "prefill" in rendered:
        prefill, author = (prefill_block if prefill_block is not None else str(rendered["prefill"])), "learner"
    else:
        prefill, author = prefill_block or "", "exercise"
    # a provider may refuse a final assistant message that ends in white space (Anthropic does)
    prefill = prefill.rstrip()
    toolbox = None
    if meta.tools:
        from lab.format.exercise import DEFAULT_TOOL_ROUNDS
        from lab.format.tools import Toolbox

        toolbox = Toolbox(meta.tools, env, variables, meta.model.tool_rounds or DEFAULT_TOOL_ROUNDS)
        try:
            toolbox.specs  # a description that places the learner's text can meet a bound of the sandbox
        except TemplateError as exc:
            raise PromptError(f"The exercise's tools cannot be described with your text for case '{case_name}': "
                              f"{str(exc).rstrip('.')}.") from None
    written = tuple(incoming) if incoming is not None else tuple(rendered.get("turns", ())) if learner_turns else ()
    return CasePlan(case_name, tuple(opening), attempt, dict(rendered), prefill, author if prefill else None,  # type: ignore[arg-type]
                    written, learner_turns, toolbox)


def _exercise_block(compiled: CompiledExercise, block: str, variables: dict[str, Any], case: str) -> str | None:
    """A per-case block with the learner's text in it. Validation rendered it with a placeholder text; a
    learner's text can still meet a bound of the sandbox (a text placed three times, past its limit)."""
    try:
        return compiled.render_block(block, variables)
    except TemplateError as exc:
        raise PromptError(f"The exercise's {block} message cannot be made with your text for case '{case}': "
                          f"{str(exc).rstrip('.')}.") from None


def placeholder_texts(meta: FrontMatter, placeholder: Any = None) -> LearnerTexts:
    """A stand-in for each text the learner writes: `placeholder(name)` (default: a word the loader finds again)."""
    make = placeholder or (lambda name: f"zqxlearner{name}text")
    texts: LearnerTexts = {}
    for name in written_texts(meta.writes):
        texts[name] = [make(name)] if name == "turns" else make(name)
    return texts
