"""Every message of a chat, in the format: each shape an exercise can give a case's conversation, what a
criterion reads, and a load-time error (file, line, fix) for each combination that makes no sense."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ExerciseError, PromptError
from lab.format.conversation import CasePlan, Dialogue, Message, split_turns, transcript_of
from lab.format.loader import load_exercise
from lab.format.messages import build_messages, learner_texts
from lab.practice.checking import check_examples
from lab.practice.grading import grade

HEAD = """---
format: 1
title: T
level: 1
"""
BRIEF = "{% block brief %}Do it.{% endblock %}\n"


def write(tmp_path: Path, body: str, template: str = BRIEF) -> Path:
    path = tmp_path / "t" / "x.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEAD + body + "---\n" + template, encoding="utf-8")
    return path


def load(tmp_path: Path, body: str, template: str = BRIEF):
    path = write(tmp_path, body, template)
    return load_exercise(path, tmp_path)


def problems(tmp_path: Path, body: str, template: str = BRIEF) -> list[tuple[int | None, str, str]]:
    path = write(tmp_path, body, template)
    with pytest.raises(ExerciseError) as caught:
        load_exercise(path, tmp_path)
    assert all(p.path == path.resolve() for p in caught.value.problems)
    return [(p.line, p.message, p.fix) for p in caught.value.problems]


RUBRIC = """rubric:
  criteria:
    - id: c
      check: contains
      value: x
"""

# ---------------------------------------------------------------- load-time errors, one per combination


def test_writes_answer_beside_a_prompt_is_an_error_naming_the_entry(tmp_path: Path):
    found = problems(tmp_path, "writes: [answer, prompt]\ncases: [{name: a}]\n" + RUBRIC)
    assert found == [(5, "`writes` lists the texts of one conversation; 'answer' cannot be one of them: no model is called for an "
                         "answer, so it cannot sit next to a message the model reads",
                      "use `writes: answer` alone, or list only system, prompt, prefill")]


def test_turns_in_a_writes_list_an_unknown_text_a_repeat_and_an_empty_list(tmp_path: Path):
    assert problems(tmp_path, "writes: [system, turns]\ncases: [{name: a}]\n" + RUBRIC)[0][1].startswith(
        "`writes` lists the texts of one conversation; 'turns' cannot be one of them: the learner's turns are a conversation of their own")
    assert problems(tmp_path, "writes: [system, user]\ncases: [{name: a}]\n" + RUBRIC) == [
        (5, "unknown text 'user' in `writes`", "a `writes` list draws from system, prompt, prefill")]
    assert problems(tmp_path, "writes: [prompt, prompt]\ncases: [{name: a}]\n" + RUBRIC) == [
        (5, "'prompt' is listed twice in `writes`", "list each text once")]
    assert problems(tmp_path, "writes: []\ncases: [{name: a}]\n" + RUBRIC)[0][:2] == (
        5, "`writes` is an empty list: the learner would write nothing")


def test_reads_prefill_when_the_learner_writes_none(tmp_path: Path):
    body = "writes: prompt\ncases: [{name: a}]\nrubric:\n  criteria:\n    - id: short\n      check: max-words\n      value: 3\n      reads: prefill\n"
    assert problems(tmp_path, body) == [
        (12, "criterion 'short' reads the learner's prefill, but the learner writes no prefill here (they write the prompt)",
         "read a text the learner writes (prompt), or add prefill to `writes`")]


def test_reads_system_prompt_when_the_learner_writes_only_the_prompt(tmp_path: Path):
    body = "cases: [{name: a}]\nrubric:\n  criteria:\n    - id: r\n      check: contains\n      value: x\n      reads: system\n"
    [(line, message, _)] = problems(tmp_path, body)
    assert line == 11 and message.startswith("criterion 'r' reads the learner's system prompt, but the learner writes no system prompt")


def test_every_answer_without_learner_turns(tmp_path: Path):
    body = "cases: [{name: a}]\nrubric:\n  criteria:\n    - id: r\n      check: contains\n      value: x\n      reads: every-answer\n"
    assert problems(tmp_path, body) == [
        (11, "criterion 'r' reads every-answer, but each case gets one answer here: every-answer reads the answers of a "
             "conversation the learner writes (`writes: turns`, or an arena's attacker: `pairing.into: turns`)", "use `reads: output` (the default), or set `writes: turns`")]


def test_continuation_with_nothing_to_continue(tmp_path: Path):
    body = "cases: [{name: a}]\nrubric:\n  criteria:\n    - id: r\n      check: contains\n      value: x\n      reads: continuation\n"
    [(line, message, fix)] = problems(tmp_path, body)
    assert (line, fix) == (11, "remove `reads:` (the output is read by default), or add a prefill")
    assert message == "criterion 'r' reads the continuation, but nothing prefills the answer, so the continuation is the whole output"


def test_a_group_check_cannot_read_a_learner_text(tmp_path: Path):
    body = ("writes: [system, prompt]\ncases: [{name: a}, {name: b}]\nrubric:\n  criteria:\n    - id: same\n      check: consistent\n"
            "      extract: '(yes|no)'\n      groups: [[a, b]]\n      reads: system\n")
    [(line, message, _)] = problems(tmp_path, body)
    assert line == 13 and message == ("criterion 'same': check 'consistent' compares the answers of every case at once, "
                                      "so it cannot read system")


def test_turns_with_writes_answer_at_the_exercise_and_in_a_case(tmp_path: Path):
    body = ("writes: answer\nturns:\n  - user: hi\ncases:\n  - name: a\n    turns: [{user: hello}]\n" + RUBRIC)
    assert problems(tmp_path, body) == [
        (6, "`writes: answer` calls no model, so these earlier turns are never sent",
         "remove `turns:`, or have the learner write a prompt (`writes: prompt`) that continues the conversation"),
        (10, "`writes: answer` calls no model, so the turns of case 'a' are never sent",
         "remove them, or have the learner write a prompt (`writes: prompt`) that continues the conversation")]


def test_a_prefill_block_with_writes_answer(tmp_path: Path):
    [(line, message, _)] = problems(tmp_path, "writes: answer\ncases: [{name: a}]\n" + RUBRIC, BRIEF + "{% block prefill %}Yes{% endblock %}")
    assert (line, message) == (5, "`writes: answer` calls no model, so its {% block prefill %} is never sent")


@pytest.mark.parametrize("block", ["user", "prefill"])
def test_learner_turns_leave_no_place_for_a_user_or_prefill_block(tmp_path: Path, block: str):
    [(line, message, fix)] = problems(tmp_path, "writes: turns\ncases: [{name: a}]\n" + RUBRIC, BRIEF + f"{{% block {block} %}}x{{% endblock %}}")
    assert line == 5 and message == f"`writes: turns` sends the learner's own messages, so a {{% block {block} %}} has no place to go"
    assert fix == "remove the block; put fixed messages before the learner's under `turns:`"


def test_max_turns_without_learner_turns(tmp_path: Path):
    assert problems(tmp_path, "max_turns: 3\ncases: [{name: a}]\n" + RUBRIC) == [
        (5, "`max_turns` counts the messages of `writes: turns`; this exercise has the learner write prompt",
         "remove `max_turns`, or set `writes: turns`")]


def test_a_block_that_drops_a_text_the_learner_writes(tmp_path: Path):
    # the system block was written for `writes: system` and still places `attempt`, which is now the prompt
    [(line, message, fix)] = problems(tmp_path, "writes: [system, prompt]\ncases: [{name: a}]\n" + RUBRIC,
                                      BRIEF + "{% block system %}{{ attempt }} Be brief.{% endblock %}")
    assert line == 5 and message == ("the learner writes the system prompt, but the exercise's {% block system %} never places it, "
                                     "so the model would never read it")
    assert fix == "write {{ texts.system }} in the block where the learner's text belongs, or remove the block"


def test_a_prefill_alone_needs_the_exercise_to_ask_something(tmp_path: Path):
    [(line, message, _)] = problems(tmp_path, "writes: prefill\ncases: [{name: a}]\n" + RUBRIC)
    assert line == 5 and message.startswith("`writes: prefill` needs a {% block user %}: the learner writes the prefill")


def test_a_turn_is_one_message_and_renders_for_every_case(tmp_path: Path):
    [(line, message, _)] = problems(tmp_path, "turns:\n  - user: hi\n    assistant: hello\ncases: [{name: a}]\n" + RUBRIC)
    assert line == 6 and message.startswith("'turns.0': a turn is one message")
    [(line, message, fix)] = problems(tmp_path, "turns:\n  - user: 'Hi {{ nmae }}'\ncases: [{name: a, vars: {name: Ana}}]\n" + RUBRIC)
    assert (line, message) == (6, "turn 1: template error: 'nmae' is not defined (case 'a')")
    assert fix.startswith("define it under `vars:`")


def test_example_attempts_take_the_shape_of_what_the_learner_writes(tmp_path: Path):
    several = ("writes: [system, prompt]\ncases: [{name: a}]\n" + RUBRIC +
               "examples:\n  - attempt: one text\n    outputs: {a: x}\n    expect: pass\n"
               "  - attempt: {system: s}\n    outputs: {a: x}\n    expect: pass\n")
    found = problems(tmp_path, several)
    assert found == [(13, "example 1's attempt is one text, but the learner writes several (system, prompt)",
                      'give each text by name: `attempt: {system: "…", prompt: "…"}`'),
                     (16, "example 2's attempt lacks prompt", "give exactly the texts the learner writes: system, prompt")]
    turns = ("writes: turns\nmax_turns: 2\ncases: [{name: a}]\n" + RUBRIC +
             "examples:\n  - attempt: [one, two]\n    outputs: {a: [x]}\n    expect: pass\n"
             "  - attempt: [one, two, three]\n    outputs: {a: [x, y, z]}\n    expect: pass\n")
    assert problems(tmp_path, turns) == [
        (15, "example 1, case 'a': 1 answer(s) for 2 message(s)", "give one answer per message of the attempt, in order"),
        (17, "example 2's attempt has 3 messages; the learner writes 1 to 2", "give between one message and `max_turns` of them")]


# ---------------------------------------------------------------- the conversation each shape sends


def test_several_texts_a_prefill_and_earlier_turns_in_order(tmp_path: Path):
    exercise = load(tmp_path, "writes: [system, prompt, prefill]\nturns:\n  - user: 'I like {{ animal }}s.'\n  - assistant: Nice.\n"
                    "cases:\n  - name: cat\n    vars: {animal: cat}\n  - name: owl\n    vars: {animal: owl}\n    turns: [{user: Hoot}]\n" + RUBRIC)
    cat, owl = build_messages(exercise, {"system": "Be a poet.", "prompt": "A haiku on {{ animal }}s.", "prefill": "<haiku>\n  "})
    assert cat.messages == [{"role": "system", "content": "Be a poet."}, {"role": "user", "content": "I like cats."},
                            {"role": "assistant", "content": "Nice."}, {"role": "user", "content": "A haiku on cats."},
                            {"role": "assistant", "content": "<haiku>"}]  # the prefill last; trailing white space dropped
    assert [m["content"] for m in owl.messages] == ["Be a poet.", "Hoot", "A haiku on owls.", "<haiku>"]  # a case's own turns replace them
    assert [(m.author, m.text) for m in cat.opening] == [("learner", "system"), ("exercise", None), ("exercise", None), ("learner", "prompt")]
    assert (cat.prefill, cat.prefill_author, cat.attempt) == ("<haiku>", "learner", "A haiku on cats.")


def test_a_block_wraps_a_learner_text_through_texts(tmp_path: Path):
    exercise = load(tmp_path, "writes: [system, prompt]\ncases: [{name: a}]\n" + RUBRIC,
                    BRIEF + "{% block system %}{{ texts.system }}\nHouse rule: no emoji.{% endblock %}")
    [plan] = build_messages(exercise, {"system": "Be kind.", "prompt": "Hi"})
    assert plan.messages[0] == {"role": "system", "content": "Be kind.\nHouse rule: no emoji."}
    assert (plan.opening[0].author, plan.opening[0].text) == ("exercise", "system")


def test_learner_turns_go_out_one_call_at_a_time_with_every_answer_kept(tmp_path: Path):
    exercise = load(tmp_path, "writes: turns\nmax_turns: 3\ncases: [{name: a}]\n" + RUBRIC, BRIEF + "{% block system %}Guard.{% endblock %}")
    [plan] = build_messages(exercise, "Hello\n---\nWhat is it?\n---\n")
    assert plan.turns == ("Hello", "What is it?") and plan.calls == 2
    dialogue = Dialogue(plan)
    assert dialogue.next_call() == [{"role": "system", "content": "Guard."}, {"role": "user", "content": "Hello"}]
    dialogue.answer("Hi.")
    assert dialogue.next_call()[-2:] == [{"role": "assistant", "content": "Hi."}, {"role": "user", "content": "What is it?"}]
    dialogue.answer("A secret.")
    assert dialogue.next_call() is None
    transcript = dialogue.transcript()
    assert transcript.answers == ("Hi.", "A secret.") and transcript.output == "A secret."


def test_the_learners_texts_are_named_when_missing_unknown_empty_or_too_many(tmp_path: Path):
    several = load(tmp_path, "writes: [prompt, prefill]\ncases: [{name: a}]\n" + RUBRIC)
    with pytest.raises(PromptError, match=r"^This exercise also needs your prefill\.$"):
        learner_texts(several, {"prompt": "Hi"})
    with pytest.raises(PromptError, match=r"^This exercise takes several texts \(prompt, prefill\): give each of them\.$"):
        learner_texts(several, "Hi")
    with pytest.raises(PromptError, match=r"^This exercise does not take a system prompt: you write the prompt and the prefill\.$"):
        learner_texts(several, {"prompt": "Hi", "prefill": "x", "system": "s"})
    with pytest.raises(PromptError, match=r"^Your prefill is empty: write one before sending\.$"):
        learner_texts(several, {"prompt": "Hi", "prefill": "  "})
    turns = load(tmp_path / "b", "writes: turns\nmax_turns: 2\ncases: [{name: a}]\n" + RUBRIC)
    with pytest.raises(PromptError, match=r"^You wrote 3 messages; this exercise takes at most 2\.$"):
        learner_texts(turns, ["a", "b", "c"])
    assert split_turns("a\n --- \nb\n---\n\n---\nc") == ["a", "b", "c"]


# ---------------------------------------------------------------- reads


def _plan(**kw) -> CasePlan:
    return CasePlan("a", (Message("user", "Hi"),), "Hi", {"prompt": "Hi there <b>friend</b>"}, **kw)


def test_each_reads_value_gives_the_check_what_it_names(tmp_path: Path):
    body = ("writes: [prompt, prefill]\ncases: [{name: a}]\nrubric:\n  criteria:\n"
            "    - {id: out, check: starts-with, value: '<haiku>'}\n"
            "    - {id: cont, check: starts-with, value: '<haiku>', reads: continuation, not: true}\n"
            "    - {id: tags, check: regex, pattern: '<\\w+>', reads: prompt, not: true}\n"
            "    - {id: pre, check: equals, value: '<haiku>', reads: prefill}\n"
            "    - {id: all, check: contains, value: '[user]', reads: transcript}\n")
    exercise = load(tmp_path, body)
    [plan] = build_messages(exercise, {"prompt": "A <b>haiku</b>", "prefill": "<haiku>"})
    transcript = transcript_of(plan, [" cat</haiku>"])
    g = grade(exercise, {"a": [transcript.output]}, transcripts={"a": [transcript]}, plans={"a": plan}, lang="en")
    verdicts = {c.id: (c.passed, c.reason) for c in g.criteria}
    assert transcript.output == "<haiku> cat</haiku>" and transcript.continuation == " cat</haiku>"
    assert verdicts["out"][0] and verdicts["cont"][0] and verdicts["pre"][0] and verdicts["all"][0]
    assert verdicts["tags"] == (False, "Reading your prompt: The output has what this criterion looks for, at “<b>”.")


def test_every_answer_and_any_answer_with_not_applied_to_each_answer(tmp_path: Path):
    body = ("writes: turns\ncases: [{name: a}]\nrubric:\n  criteria:\n"
            "    - {id: leak, check: contains, value: SECRET, reads: any-answer}\n"
            "    - {id: calm, check: contains, value: ALERT, not: true, reads: every-answer}\n")
    exercise = load(tmp_path, body)
    [plan] = build_messages(exercise, ["one", "two", "three"])

    def verdicts(*answers: str) -> dict[str, tuple[bool, float, str]]:
        t = transcript_of(plan, answers)
        g = grade(exercise, {"a": [t.output]}, transcripts={"a": [t]}, plans={"a": plan}, lang="en")
        return {c.id: (c.passed, c.score, c.reason) for c in g.criteria}

    found = verdicts("hello", "the SECRET", "ok")
    assert found["leak"] == (True, 1.0, "Answer 2 of 3: The output contains “SECRET”.")
    assert found["calm"] == (True, 1.0, "Passed on all 3 answers.")
    found = verdicts("ALERT", "no", "no")
    assert found["leak"] == (False, 0.0, "No answer passes (3 answers). Answer 3 of 3: The output does not contain “SECRET”.")
    assert found["calm"][:2] == (False, 0.0) and found["calm"][2].startswith("Answer 1 of 3: The output contains “ALERT”.")


def test_check_examples_rebuilds_each_conversation_around_the_outputs(tmp_path: Path):
    body = ("writes: turns\ncases: [{name: a}]\nrubric:\n  criteria:\n"
            "    - {id: leak, check: contains, value: SECRET, reads: any-answer}\n"
            "examples:\n  - attempt: [hi, tell]\n    outputs: {a: [hello, SECRET]}\n    expect: pass\n"
            "  - attempt: [hi]\n    outputs: {a: [hello]}\n    expect: fail\n")
    assert [v.verdict for v in check_examples(load(tmp_path, body))] == ["pass", "fail"]
    prefilled = ("writes: prefill\ncases: [{name: a}]\nrubric:\n  criteria:\n    - {id: json, check: json}\n"
                 "examples:\n  - attempt: '{'\n    outputs: {a: '\"k\": 1}'}\n    expect: pass\n"
                 "  - attempt: 'JSON:'\n    outputs: {a: ' {\"k\": 1}'}\n    expect: fail\n")
    exercise = load(tmp_path / "p", prefilled, BRIEF + "{% block user %}Give JSON.{% endblock %}")
    assert [v.verdict for v in check_examples(exercise)] == ["pass", "fail"]  # the prefill is part of what is graded
