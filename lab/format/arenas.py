"""Arenas: a class plays its own attacks against its own defences (docs/authoring.md, "Arenas").

Exercises that share `arena: NAME` make one arena: one `role: defend` exercise, whose `pairing:` says
which of its cases a pair plays, where an attacker's text lands in it (`into`: a variable of that case,
or `turns`), which cases keep a defence honest (`benign`) and which criteria grade a pair; and one or
more `role: attack` exercises, whose learner writes a prompt or a conversation.

Here: the load-time checks of one file (`check_file`) and of an arena as a whole (`arena_problems`),
each problem at its line with a fix, and how one attack meets one defence (`meet`): the defend
exercise's conversation for its pairing case, the defender's texts in their own places, the attacker's
text where `into` puts it, graded by the defend exercise's rubric reduced to the pairing's criteria.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping, Sequence

from jinja2.exceptions import TemplateError

from lab.errors import Problem, PromptError
from lab.format.conversation import CasePlan, Message
from lab.format.exercise import ATTACKER_TURNS, Case, Criterion, Exercise, FrontMatter, learner_variables, written_texts, writes_label
from lab.format.messages import learner_texts, placeholder_texts, plan_case
from lab.format.templating import CompiledExercise, render_learner_text

ATTACK_WRITES = ("prompt", "turns")  # what an attack's learner writes: one message or document, or a conversation
ATTACK_MARK = "attack"  # `Message.text` of a message of the exercise's that carries the attacker's text
DOCS = 'docs/authoring.md, "Arenas"'


def pair_criteria(meta: FrontMatter) -> list[Criterion]:
    """The criteria that grade a pair: the pairing's list, else every criterion that applies to its case."""
    pairing = meta.pairing
    if pairing is None:
        return []
    if pairing.criteria is None:
        return [c for c in meta.rubric.criteria if c.applies_to(pairing.case)]
    wanted = set(pairing.criteria)
    return [c for c in meta.rubric.criteria if c.id in wanted]


def is_benign(case_name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(case_name, p) for p in patterns)


# ---------------------------------------------------------------- one file


def check_file(meta: FrontMatter, compiled: CompiledExercise, root: Any, out: Any) -> None:
    """`arena`, `role` and `pairing` of one exercise: each problem at its key's line (`out.at`)."""
    from graders import get_check

    if meta.role is not None and meta.arena is None:
        out.at(("role",), f"`role: {meta.role}` is a side in an arena, but this exercise joins none",
               "add `arena: NAME` (the name its defence and its attacks share), or remove `role`")
    if meta.arena is not None and meta.role is None:
        out.at(("arena",), f"this exercise joins arena '{meta.arena}' but does not say on which side",
               "add `role: defend` (the learner's text guards) or `role: attack` (the learner's text attacks)")
    if meta.pairing is not None and meta.role != "defend":
        out.at(("pairing",), "`pairing` says how an attack meets this defence; only a `role: defend` exercise has one",
               "remove `pairing`, or set `role: defend`")
    texts = written_texts(meta.writes)
    label = writes_label(meta.writes)
    if meta.role == "attack" and (len(texts) != 1 or texts[0] not in ATTACK_WRITES):
        out.at(("writes",), f"an attack in an arena writes one text, which lands in the defence's conversation: `writes: prompt` "
               f"(a message or a document) or `writes: turns` (a conversation); this one writes {label}",
               "set `writes: prompt` or `writes: turns`, or remove `arena` and `role`")
    if meta.role != "defend":
        return
    if "answer" in texts or "turns" in texts:
        why = "calls no model" if "answer" in texts else "leaves no place for the attacker's messages"
        out.at(("writes",), f"a defence writes what the model reads around the attack (a system prompt, a prompt that places "
               f"the attacker's text, a prefill); `writes: {label}` {why}", "set `writes: system` (or a list of system, prompt, prefill)")
        return
    pairing = meta.pairing
    if pairing is None:
        out.at(("role",), "a defence needs `pairing:`: the case a pair plays, where the attacker's text goes, and the benign "
               "cases that keep a defence honest",
               f"add `pairing: {{case: CASE, into: VARIABLE, benign: [benign-*]}}` ({DOCS})")
        return
    names = [c.name for c in meta.cases]
    case = next((c for c in meta.cases if c.name == pairing.case), None)
    if case is None:
        close = difflib.get_close_matches(pairing.case, names, n=1)
        out.at(("pairing", "case"), f"pairing: there is no case '{pairing.case}'" + (f" (did you mean '{close[0]}'?)" if close else ""),
               f"name the case a pair plays; the cases are: {', '.join(names)}")
        return
    _check_into(meta, compiled, root, case, texts, out)
    for index, pattern in enumerate(pairing.benign):
        matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            close = difflib.get_close_matches(pattern, names, n=1)
            out.at(("pairing", "benign", index), f"pairing: '{pattern}' under `benign:` matches no case"
                   + (f" (did you mean '{close[0]}'?)" if close else ""), f"the cases are: {', '.join(names)}")
        elif case.name in matched:
            out.at(("pairing", "benign", index), f"pairing: '{pattern}' under `benign:` matches '{case.name}', the case a pair plays; "
                   "benign cases are ordinary requests that a defence must still answer well",
                   "list only the cases without an attack (such as `benign-*`)")
    criteria = {c.id: c for c in meta.rubric.criteria}
    for name in names:
        if is_benign(name, pairing.benign) and name != case.name and not any(c.applies_to(name) for c in meta.rubric.criteria):
            out.at(("pairing", "benign"), f"pairing: no criterion applies to the benign case '{name}', so it keeps no defence honest",
                   "add a criterion for it (the answer it must give, `refusal` with `not: true`), or leave it out of `benign:`")
    if pairing.criteria is not None:
        for index, cid in enumerate(pairing.criteria):
            criterion = criteria.get(cid)
            if criterion is None:
                close = difflib.get_close_matches(cid, list(criteria), n=1)
                out.at(("pairing", "criteria", index), f"pairing: there is no criterion '{cid}'" + (f" (did you mean '{close[0]}'?)" if close else ""),
                       f"the criteria are: {', '.join(criteria)}")
            elif not criterion.applies_to(case.name):
                out.at(("pairing", "criteria", index), f"pairing: criterion '{cid}' does not apply to case '{case.name}' (its `cases:` "
                       "leave it out), so it cannot grade a pair", f"add '{case.name}' to its `cases:`, or leave it out of `pairing.criteria`")
    chosen = pair_criteria(meta)
    if not chosen and pairing.criteria is None:
        out.at(("pairing", "case"), f"pairing: no criterion applies to case '{case.name}', so nothing would grade a pair",
               "give that case a criterion (such as a `leak` check with `not: true`), or choose another case")
    for criterion in chosen:
        try:
            group = get_check(criterion.check).scope == "group"
        except KeyError:
            continue  # reported with the rubric
        if group:
            out.at(("pairing", "criteria"), f"pairing: criterion '{criterion.id}' compares the answers of every case at once, "
                   "but a pair plays one case", "leave it out of `pairing.criteria` (list the criteria that grade a pair)")


def _check_into(meta: FrontMatter, compiled: CompiledExercise, root: Any, case: Case, texts: tuple[str, ...], out: Any) -> None:
    pairing = meta.pairing
    assert pairing is not None
    if pairing.into == ATTACKER_TURNS:
        if "prompt" in texts:
            out.at(("pairing", "into"), "with `into: turns` the attacker's messages are the user messages, so the defender cannot "
                   "write the prompt as well", "have the defender write the system prompt (and a prefill), or put the attacker's "
                   "text in a variable that the defender's prompt places (`into: document`)")
        return
    variables = {**meta.vars, **case.vars}
    if pairing.into not in variables:
        known = ", ".join(sorted(variables)) or "none"
        out.at(("pairing", "into"), f"pairing: case '{case.name}' has no variable '{pairing.into}' for the attacker's text",
               f"name one of its variables ({known}), or `turns` (the attacker's messages are then the conversation)")
        return
    if not isinstance(variables[pairing.into], str):
        out.at(("pairing", "into"), f"pairing: variable '{pairing.into}' of case '{case.name}' is not a text, so an attacker's "
               "text cannot take its place", "choose the variable that holds the message or document an attacker writes")
        return
    if out.problems:
        return  # a block that does not render has been reported; where the text lands cannot be traced
    marker = "zqxattackertext"
    trial = _with_case(meta, case.model_copy(update={"vars": {**case.vars, pairing.into: marker}}))
    try:
        plan = plan_case(trial, compiled, root, case.name, placeholder_texts(meta))
    except (TemplateError, PromptError):
        return  # reported where the block is rendered
    if marker in reachable(plan):
        return
    # not placed by the exercise: only a learner text that can see the variable could place it
    if pairing.into.startswith("_") or not any(t in ("system", "prompt") for t in texts):
        out.at(("pairing", "into"), f"pairing: the attacker's text in `{{{{ {pairing.into} }}}}` never reaches a message of case "
               f"'{case.name}', so no attack could land", f"place `{{{{ {pairing.into} }}}}` in the exercise's user block (or "
               "earlier turns, or a tool's `result`), or name the variable that is sent")


def reachable(plan: CasePlan) -> str:
    """What a case puts within the model's reach: every message it sends, and what each of its tools answers
    (an attacker's page or email lands in a tool's result, read when the model calls that tool)."""
    parts = [m.content for m in plan.preview()]
    box = plan.toolbox
    if box is not None:
        from lab.format.tools import render_result, sample_arguments

        parts += [render_result(tool, box.env, {**box.variables, "args": sample_arguments(tool.parameters)}) for tool in box.tools.values()]
    return "\n".join(parts)


def _with_case(meta: FrontMatter, case: Case, criteria: list[Criterion] | None = None) -> FrontMatter:
    """The front matter of a pair: one case (the pairing's, changed), and the pair's criteria."""
    update: dict[str, Any] = {"cases": [case]}
    if criteria is not None:
        update["rubric"] = meta.rubric.model_copy(update={"criteria": criteria})
    return meta.model_copy(update=update)


# ---------------------------------------------------------------- an arena as a whole


@dataclass(frozen=True)
class ArenaSet:
    """The exercises of one arena, as a catalogue has them."""

    name: str
    defences: tuple[Exercise, ...]
    attacks: tuple[Exercise, ...]

    @property
    def defence(self) -> Exercise | None:
        return self.defences[0] if len(self.defences) == 1 else None


def arenas(exercises: Iterable[Exercise]) -> dict[str, ArenaSet]:
    """Every arena the exercises join, by name."""
    found: dict[str, tuple[list[Exercise], list[Exercise]]] = {}
    for exercise in exercises:
        if exercise.arena is None or exercise.role is None:
            continue
        defences, attacks = found.setdefault(exercise.arena, ([], []))
        (defences if exercise.role == "defend" else attacks).append(exercise)
    return {name: ArenaSet(name, tuple(sorted(d, key=lambda e: e.id)), tuple(sorted(a, key=lambda e: e.id)))
            for name, (d, a) in sorted(found.items())}


def mismatch(defence: Exercise, attack: Exercise) -> tuple[str, str] | None:
    """Why this attack cannot meet this defence (message, fix), seen from the attack; None when it can."""
    pairing = defence.pairing
    if pairing is None or attack.texts != ("turns",) or pairing.into == ATTACKER_TURNS:
        return None
    return (f"this attack writes a conversation (`writes: turns`), but the defence of arena '{defence.arena}' "
            f"({defence.id}) takes the attacker's text in `{{{{ {pairing.into} }}}}`, one text",
            f"set `into: turns` under `pairing:` in {defence.path.name} (the attacker's messages are then the conversation "
            "after its system prompt), or have this attack write `writes: prompt`")


def _line(exercise: Exercise, key: str) -> int | None:
    return exercise.lines.get(key) or exercise.lines.get("arena")


def arena_problems(exercises: Iterable[Exercise], on: Collection[Path] | None = None) -> list[Problem]:
    """What is wrong with the arenas these exercises make: no defence, two defences, no attack, an attack
    whose shape the defence cannot take. Each problem is placed in a file of `on` (default: every file)."""
    wanted = None if on is None else {Path(os.path.realpath(p)) for p in on}

    def mine(exercise: Exercise) -> bool:
        return wanted is None or exercise.path in wanted

    problems: list[Problem] = []
    for name, arena in arenas(exercises).items():
        if not arena.defences:
            for attack in arena.attacks:
                if mine(attack):
                    problems.append(Problem(attack.path, _line(attack, "arena"),
                                            f"arena '{name}' has no defence: no exercise has `arena: {name}` and `role: defend`",
                                            "add those keys to the arena's defend exercise, or correct the arena's name"))
        if len(arena.defences) > 1:
            ids = ", ".join(d.id for d in arena.defences)
            for defence in arena.defences:
                if mine(defence):
                    problems.append(Problem(defence.path, _line(defence, "role"),
                                            f"arena '{name}' has {len(arena.defences)} defences ({ids}); an arena has one, which every attack meets",
                                            "give all but one of them an arena of their own (`arena: NAME`)"))
        if not arena.attacks:
            for defence in arena.defences:
                if mine(defence):
                    problems.append(Problem(defence.path, _line(defence, "arena"),
                                            f"arena '{name}' has no attack: no exercise has `arena: {name}` and `role: attack`",
                                            "add those keys to the attack exercises that play against this defence"))
        defence = arena.defence
        if defence is None:
            continue
        for attack in arena.attacks:
            why = mismatch(defence, attack)
            if why is None:
                continue
            if mine(attack):
                problems.append(Problem(attack.path, _line(attack, "writes"), *why))
            elif mine(defence):
                problems.append(Problem(defence.path, defence.lines.get("pairing") or _line(defence, "arena"),
                                        f"pairing: the attack {attack.id} of arena '{name}' writes a conversation (`writes: turns`), "
                                        f"but this defence takes the attacker's text in `{{{{ {defence.pairing.into if defence.pairing else ''} }}}}`",
                                        "set `into: turns` under `pairing:`, or have that attack write `writes: prompt`"))
    return problems


# ---------------------------------------------------------------- one attack meets one defence


@dataclass(frozen=True)
class Pair:
    """One attack against one defence, ready to send: the defence's exercise reduced to the pair (its pairing
    case, with the attacker's text in it, and the pairing's criteria) and the conversation that case sends."""

    exercise: Exercise
    plan: CasePlan
    attack: str | tuple[str, ...]  # the attacker's text as placed (for `into: turns`, its messages)
    landed: bool  # every line of the attacker's text reaches a message the model reads

    @property
    def case(self) -> str:
        return self.plan.case


def attack_text(attack: Exercise, given: str | list[str] | Mapping[str, Any]) -> str | tuple[str, ...]:
    """The attacker's text as its own exercise places it (for its first case; an attack works on every case of
    its exercise): one text, or for `writes: turns` its messages. PromptError when it cannot be used."""
    texts = learner_texts(attack, given)
    variables = learner_variables(attack.meta, attack.cases[0].name)
    value = texts[attack.main_text]
    try:
        if isinstance(value, list):
            return tuple(render_learner_text(t, variables) for t in value)
        return render_learner_text(str(value), variables)
    except PromptError as exc:
        raise PromptError(f"The attack cannot be used: {exc}") from None


def meet(defence: Exercise, defence_given: str | list[str] | Mapping[str, Any], attack: Exercise,
         attack_given: str | list[str] | Mapping[str, Any]) -> Pair:
    """The pair of this defence and this attack (PromptError, in one sentence, when a text cannot be used)."""
    pairing = defence.pairing
    if pairing is None:
        raise PromptError(f"{defence.id} is not the defence of an arena (it has no `pairing:`).")
    placed = attack_text(attack, attack_given)
    case = defence.case(pairing.case)
    turns = pairing.into == ATTACKER_TURNS
    if turns:
        messages = placed if isinstance(placed, tuple) else (placed,)
        case = case.model_copy(update={"turns": []})  # the attacker's messages are the whole conversation after the system prompt
    else:
        if isinstance(placed, tuple):
            raise PromptError(f"The attack is a conversation, but the defence {defence.id} takes one text (`{{{{ {pairing.into} }}}}`).")
        case = case.model_copy(update={"vars": {**case.vars, pairing.into: placed}})
    criteria = pair_criteria(defence.meta)
    meta = _with_case(defence.meta, case, criteria)
    texts = learner_texts(defence, defence_given)
    variables = learner_variables(meta, case.name)
    rendered: dict[str, Any] = {}
    try:
        for name, value in texts.items():
            rendered[name] = [render_learner_text(t, variables) for t in value] if isinstance(value, list) \
                else render_learner_text(value, variables)
        plan = plan_case(meta, defence.compiled, defence.root, case.name, rendered, incoming=messages if turns else None)
    except PromptError as exc:
        raise PromptError(f"The defence cannot be used: {exc}") from None
    if not turns:
        plan = replace(plan, opening=tuple(_marked(m, str(placed)) for m in plan.opening))
    sent = reachable(plan)
    lines = [line.strip() for text in (placed if isinstance(placed, tuple) else (placed,)) for line in text.splitlines() if line.strip()]
    landed = all(line in sent for line in lines)
    params = {c.id: {case.name: defence.criterion_params[c.id][case.name]} for c in criteria}
    return Pair(replace(defence, meta=meta, criterion_params=params), plan, placed, landed)


def _marked(message: Message, placed: str) -> Message:
    """A message of the exercise's that carries the attacker's text says so (the report labels it)."""
    if message.author == "exercise" and placed.strip() and placed.strip() in message.content:
        return replace(message, text=ATTACK_MARK)
    return message


def who_wrote(message: Any, attack: str | None = None) -> str:
    """`attack`, `defence`, `exercise` or `model`: whose words a message of a pair's conversation are. `attack`
    (the attacker's text as placed) finds it in a tool's answer, which the conversation writes as it goes."""
    author = message.get("author") if isinstance(message, dict) else message.author
    text = message.get("text") if isinstance(message, dict) else message.text
    role = message.get("role") if isinstance(message, dict) else message.role
    content = message.get("content") if isinstance(message, dict) else message.content
    if author == "model":
        return "model"
    if text in (ATTACK_MARK, "turns") or (role == "tool" and attack and attack.strip() and attack.strip() in str(content or "")):
        return "attack"
    if author == "learner" or text in ("system", "prompt", "prefill"):
        return "defence"
    return "exercise"


def text_length(texts: str | Sequence[str] | Mapping[str, Any]) -> int:
    """How long a learner's text(s) are, in characters (a leaderboard's tie-break: the shorter wins)."""
    if isinstance(texts, str):
        return len(texts)
    if isinstance(texts, Mapping):
        return sum(text_length(v) for v in texts.values())
    return sum(len(str(t)) for t in texts)

