"""Load-time checks of the conversation an exercise shapes (format v1, "Every message of a chat"):
`writes` lists, `turns`, the prefill, `max_turns`, what each criterion `reads:`, and the shape of the
examples' attempts and outputs. Each problem names its line and says what to change.

`out` is the loader's collector: `out.at(loc, message, fix)` places a problem at a front-matter key.
"""

from __future__ import annotations

from typing import Any

from jinja2.exceptions import TemplateError

from lab.errors import PromptError
from lab.format.exercise import TEXT_NAMES, FrontMatter, main_text, written_texts
from lab.format.templating import CompiledExercise, describe_template_error, render_learner_text, render_string, root_environment

LIST_NAMES = ", ".join(TEXT_NAMES)


def check_writes(meta: FrontMatter, out: Any) -> bool:
    """`writes` as a list: drawn from system, prompt and prefill, each once. False when it cannot be used."""
    if not isinstance(meta.writes, list):
        return True
    ok = True
    if not meta.writes:
        out.at(("writes",), "`writes` is an empty list: the learner would write nothing",
               f"list the texts the learner writes, drawn from {LIST_NAMES}, e.g. `writes: [system, prompt]`")
        return False
    for index, name in enumerate(meta.writes):
        if name in ("answer", "turns"):
            why = ("no model is called for an answer, so it cannot sit next to a message the model reads" if name == "answer"
                   else "the learner's turns are a conversation of their own")
            out.at(("writes", index), f"`writes` lists the texts of one conversation; '{name}' cannot be one of them: {why}",
                   f"use `writes: {name}` alone, or list only {LIST_NAMES}")
            ok = False
        elif name not in TEXT_NAMES:
            out.at(("writes", index), f"unknown text '{name}' in `writes`", f"a `writes` list draws from {LIST_NAMES}")
            ok = False
        elif name in meta.writes[:index]:
            out.at(("writes", index), f"'{name}' is listed twice in `writes`", "list each text once")
            ok = False
    return ok


def check_blocks(meta: FrontMatter, names: frozenset[str], out: Any) -> None:
    """The blocks and keys that make no sense with what the learner writes."""
    texts = written_texts(meta.writes)
    answering, turns = texts == ("answer",), "turns" in texts
    if answering and "prefill" in names:
        out.at(("writes",), "`writes: answer` calls no model, so its {% block prefill %} is never sent",
               "remove the block: the learner's own text is graded as the output of every case")
    if answering:
        if meta.turns:
            out.at(("turns",), "`writes: answer` calls no model, so these earlier turns are never sent",
                   "remove `turns:`, or have the learner write a prompt (`writes: prompt`) that continues the conversation")
        for index, case in enumerate(meta.cases):
            if case.turns:
                out.at(("cases", index, "turns"), f"`writes: answer` calls no model, so the turns of case '{case.name}' are never sent",
                       "remove them, or have the learner write a prompt (`writes: prompt`) that continues the conversation")
    if turns:
        for block in ("user", "prefill"):
            if block in names:
                out.at(("writes",), f"`writes: turns` sends the learner's own messages, so a {{% block {block} %}} has no place to go",
                       "remove the block; put fixed messages before the learner's under `turns:`")
    if meta.max_turns is not None and not turns:
        out.at(("max_turns",), "`max_turns` counts the messages of `writes: turns`; this exercise has the learner write "
               + " and ".join(texts), "remove `max_turns`, or set `writes: turns`")
    needs_user = not answering and not turns and "prompt" not in texts and all(t in TEXT_NAMES for t in texts)
    if needs_user and "user" not in names:
        what = " and ".join("the system prompt" if t == "system" else f"the {t}" for t in texts)
        shape = f"`writes: {meta.writes}`" if isinstance(meta.writes, str) else f"`writes: [{', '.join(meta.writes)}]`"
        out.at(("writes",), f"{shape} needs a {{% block user %}}: the learner writes {what}, so the exercise supplies the user message",
               "add {% block user %}{{ input }}{% endblock %} with `input` in each case's vars")


def check_turns(meta: FrontMatter, compiled: CompiledExercise, root: Any, out: Any) -> None:
    """Every earlier turn renders for every case it is sent in."""
    from lab.format.exercise import block_variables
    from lab.format.messages import placeholder_texts

    env = root_environment(root)
    texts = placeholder_texts(meta)
    main = texts.get(main_text(written_texts(meta.writes)), "")
    attempt = main[0] if isinstance(main, list) else main
    reported: set[tuple[Any, ...]] = set()
    for case in meta.cases:
        own = case.turns is not None
        turns = case.turns if own else meta.turns
        for index, turn in enumerate(turns or []):
            loc = (("cases", meta.cases.index(case), "turns") if own else ("turns",)) + (index, turn.role)
            if loc in reported or "{" not in turn.content:
                continue
            try:
                render_string(env, turn.content, block_variables(meta, case.name, attempt, texts))
            except TemplateError as exc:
                reported.add(loc)
                message, fix = describe_template_error(exc)
                out.at(loc, f"turn {index + 1}: {message} (case '{case.name}')", fix)


def check_texts_sent(meta: FrontMatter, compiled: CompiledExercise, root: Any, out: Any) -> None:
    """Each text the learner writes reaches a message the model reads: a block that replaces it must place it."""
    from lab.format.messages import placeholder_texts, plan_case

    names = written_texts(meta.writes)
    if len(names) == 1 and names[0] != "prefill":
        return  # one prompt or system prompt: `attempt` is the text, as it always was
    texts = placeholder_texts(meta)
    try:
        plan = plan_case(meta, compiled, root, meta.cases[0].name, texts)
    except (TemplateError, PromptError):
        return  # reported where the block is rendered
    sent = "\n".join(m.content for m in plan.preview()).lower()
    block_of = {"system": "system", "prompt": "user", "prefill": "prefill"}
    for name in names:
        if str(texts[name]).lower() not in sent:
            block = block_of[name]
            place = "{{ texts.%s }}" % name if len(names) > 1 or name == "prefill" else "{{ attempt }}"
            out.at(("writes",), f"the learner writes the {_what(name)}, but the exercise's {{% block {block} %}} never places it, "
                   "so the model would never read it", f"write {place} in the block where the learner's text belongs, or remove the block")


def check_reads(meta: FrontMatter, blocks: frozenset[str], out: Any) -> None:
    """What each criterion reads must exist in this exercise's conversations."""
    from graders import get_check

    texts = written_texts(meta.writes)
    turns = "turns" in texts
    prefill = "prefill" in texts or "prefill" in blocks
    # an arena's attacker may write the conversation this defence answers (`pairing.into: turns`): each answer counts
    answers = turns or (meta.role == "defend" and meta.pairing is not None and meta.pairing.into == "turns")
    for index, criterion in enumerate(meta.rubric.criteria):
        reads = criterion.reads
        loc = ("rubric", "criteria", index, "reads")
        if reads in ("prompt", "system", "prefill") and reads not in texts and not (reads == "prompt" and turns):
            writes = " and ".join(_what(t) for t in texts)
            out.at(loc, f"criterion '{criterion.id}' reads the learner's {_what(reads)}, but the learner writes no {_what(reads)} "
                   f"here (they write the {writes})",
                   f"read a text the learner writes ({', '.join(t for t in texts if t in TEXT_NAMES) or 'output'}), "
                   f"or add {reads} to `writes`")
        elif reads in ("every-answer", "any-answer") and not answers:
            out.at(loc, f"criterion '{criterion.id}' reads {reads}, but each case gets one answer here: {reads} reads the "
                   "answers of a conversation the learner writes (`writes: turns`, or an arena's attacker: `pairing.into: turns`)",
                   "use `reads: output` (the default), or set `writes: turns`")
        elif reads == "continuation" and not prefill:
            out.at(loc, f"criterion '{criterion.id}' reads the continuation, but nothing prefills the answer, so the continuation "
                   "is the whole output", "remove `reads:` (the output is read by default), or add a prefill")
        try:
            group = get_check(criterion.check).scope == "group"
        except KeyError:
            continue  # reported with the rubric
        if group and reads not in ("output", "continuation"):
            out.at(loc, f"criterion '{criterion.id}': check '{criterion.check}' compares the answers of every case at once, "
                   f"so it cannot read {reads}", "use `reads: output` or `reads: continuation` with this check")


def check_examples(meta: FrontMatter, out: Any) -> None:
    """Each example's attempt has the shape of what the learner writes, and renders for every case."""
    names = written_texts(meta.writes)
    turns = "turns" in names
    limit = meta.max_turns or 5
    for index, example in enumerate(meta.examples):
        loc = ("examples", index, "attempt")
        attempt = example.attempt
        texts: dict[str, Any]
        if turns:
            if isinstance(attempt, dict):
                out.at(loc, f"example {index + 1}'s attempt is a mapping, but the learner writes a conversation (`writes: turns`)",
                       "give the learner's messages as a list: `attempt: [\"first message\", \"second message\"]`")
                continue
            from lab.format.conversation import split_turns

            messages = split_turns(attempt) if isinstance(attempt, str) else [m for m in attempt if m.strip()]
            if not messages or len(messages) > limit:
                out.at(loc, f"example {index + 1}'s attempt has {len(messages)} messages; the learner writes 1 to {limit}",
                       "give between one message and `max_turns` of them")
                continue
            texts = {"turns": messages}
            for case_name in example.outputs:
                for sample, answers in enumerate(example.conversations_for(case_name)):
                    if len(answers) != len(messages):
                        which = f" (sample {sample + 1})" if len(example.conversations_for(case_name)) > 1 else ""
                        out.at(("examples", index, "outputs", case_name),
                               f"example {index + 1}, case '{case_name}'{which}: {len(answers)} answer(s) for {len(messages)} message(s)",
                               "give one answer per message of the attempt, in order")
        elif len(names) > 1:
            if not isinstance(attempt, dict):
                shown = ", ".join(f"{n}: \"…\"" for n in names)
                out.at(loc, f"example {index + 1}'s attempt is one text, but the learner writes several ({', '.join(names)})",
                       f"give each text by name: `attempt: {{{shown}}}`")
                continue
            missing = [n for n in names if n not in attempt]
            unknown = [n for n in attempt if n not in names]
            if missing or unknown:
                what = (f"lacks {', '.join(missing)}" if missing else "") + ("; " if missing and unknown else "") + \
                    (f"has {', '.join(unknown)}, which the learner does not write" if unknown else "")
                out.at(loc, f"example {index + 1}'s attempt {what}", f"give exactly the texts the learner writes: {', '.join(names)}")
                continue
            texts = dict(attempt)
        else:
            if not isinstance(attempt, str):
                out.at(loc, f"example {index + 1}'s attempt should be one text: the learner writes the {_what(names[0])}",
                       "write the attempt as one string")
                continue
            texts = {names[0]: attempt}
        _check_renders(meta, texts, index, loc, out)


def _check_renders(meta: FrontMatter, texts: dict[str, Any], index: int, loc: tuple[Any, ...], out: Any) -> None:
    from lab.format.exercise import learner_variables

    for case in meta.cases:
        variables = learner_variables(meta, case.name)
        try:
            for name, value in texts.items():
                for text in value if isinstance(value, list) else [value]:
                    render_learner_text(text, variables, case.name)
        except PromptError as exc:
            out.at(loc, f"example {index + 1}'s attempt: {exc}", "fix the example's attempt text")
            return


def _what(name: str) -> str:
    return {"system": "system prompt"}.get(name, name)


TOOL_CHECKS = {"tool-called": "name", "tool-sequence": "names"}


def check_tools(meta: FrontMatter, blocks: frozenset[str], root: Any, out: Any) -> None:
    """The tools (format v1, "Tools"): each a usable function with a JSON Schema for its arguments and a result
    that renders for every case; the checks and examples that name tools name the exercise's own."""
    import difflib

    from graders.structured import schema_problem
    from lab.format.exercise import block_variables
    from lab.format.messages import placeholder_texts
    from lab.format.tools import check_result_renders

    names = [t.name for t in meta.tools]
    texts = written_texts(meta.writes)
    if not meta.tools:
        if meta.model.tool_rounds is not None:
            out.at(("model", "tool_rounds"), "`model.tool_rounds` counts rounds of tool calls, but the exercise has no `tools:`",
                   "remove `tool_rounds`, or add the tools the model may call under `tools:`")
    elif texts == ("answer",):
        out.at(("tools",), "`writes: answer` calls no model, so its tools would never be called",
               "remove `tools:`, or have the learner write a prompt or system prompt (`writes: prompt`)")
        return
    elif "prefill" in texts or "prefill" in blocks:
        out.at(("tools",), "a prefill cannot be combined with tools: the model's answer would have to start with the prefill "
               "while it may call a tool first", "remove the prefill, or the tools")
    for index, tool in enumerate(meta.tools):
        loc = ("tools", index)
        if tool.name in names[:index]:
            out.at(loc + ("name",), f"tool name '{tool.name}' is used twice; tool names must be unique", "rename one of the tools")
        problem = schema_problem(tool.parameters)
        if problem is not None:
            out.at(loc + ("parameters",), f"tool '{tool.name}': `parameters` is not a JSON Schema: {problem}",
                   "write a JSON Schema of the arguments, e.g. `{type: object, properties: {order_id: {type: string}}, required: [order_id]}`")
        elif tool.parameters.get("type") != "object":
            out.at(loc + ("parameters",), f"tool '{tool.name}': `parameters` must describe an object (`type: object`): "
                   "a tool's arguments are named", "start the schema with `type: object` and list the arguments under `properties:`")
        elif not tool.result.strip():
            out.at(loc + ("result",), f"tool '{tool.name}' has an empty `result`: the model would read nothing back",
                   "write what the tool answers, e.g. `result: '{\"status\": \"{{ status }}\"}'`")
        else:
            env = root_environment(root)
            placeholder = placeholder_texts(meta, lambda name: "(the learner's text)")
            main = placeholder.get(main_text(texts), "(the learner's text)")
            for case in meta.cases:
                variables = block_variables(meta, case.name, main[0] if isinstance(main, list) else main, placeholder)
                why = check_result_renders(tool, env, variables)
                if why is not None:
                    out.at(loc + ("description" if "(in its description)" in why else "result",), f"tool '{tool.name}': it cannot be made: {why.removeprefix('template error: ')} "
                           f"(case '{case.name}')", "use the case's vars, `args.NAME` for an argument (`args.NAME | default('')` "
                           "for one that is not required) and `attempt`")
                    break
    for index, criterion in enumerate(meta.rubric.criteria):
        key = TOOL_CHECKS.get(criterion.check)
        if key is None:
            continue
        loc = ("rubric", "criteria", index)
        if not meta.tools:
            out.at(loc + ("check",), f"criterion '{criterion.id}': check '{criterion.check}' reads the model's tool calls, but the "
                   "exercise has no `tools:`", "add the tools the model may call under `tools:`, or use another check")
            continue
        value = criterion.params.get(key)
        wanted = [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]
        for position, name in enumerate(wanted):
            if "{" in name or name in names:
                continue
            close = difflib.get_close_matches(name, names, n=1)
            out.at(loc + ((key,) if isinstance(value, str) else (key, position)),
                   f"criterion '{criterion.id}': there is no tool '{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""),
                   f"the tools are: {', '.join(names)}")
    case_names = [c.name for c in meta.cases]
    for index, example in enumerate(meta.examples):
        if example.calls and not meta.tools:
            out.at(("examples", index, "calls"), f"example {index + 1} gives the model's calls, but the exercise has no `tools:`",
                   "remove `calls:`, or add the tools under `tools:`")
            continue
        for case_name, calls in example.calls.items():
            if case_name not in case_names:
                out.at(("examples", index, "calls", case_name), f"example {index + 1} has calls for unknown case '{case_name}'",
                       f"the cases are: {', '.join(case_names)}")
                continue
            flat = [c for item in calls for c in (item if isinstance(item, list) else [item])]
            for call in flat:
                if call.name not in names:
                    close = difflib.get_close_matches(call.name, names, n=1)
                    out.at(("examples", index, "calls", case_name), f"example {index + 1}, case '{case_name}': a call to '{call.name}', "
                           "which is not a tool of this exercise" + (f" (did you mean '{close[0]}'?)" if close else ""),
                           f"the tools are: {', '.join(names)}")
                    break
