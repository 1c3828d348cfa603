"""Tools (format v1, "Tools"): the loop, its grading and its faces.

Each shape goes litellm -> HTTP -> a cassette of the fake provider (lab/testserver.py's `agent` models):
one call, parallel calls in one turn, a bad call answered with the validation error, a model that never
stops calling (cut off when `tool_rounds` is spent), a stream of tool-call deltas; and `lab grade`'s own
client (non-streamed, straight to the server). Every load-time error of a tool exercise has its message.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from lab.cli import main
from lab.errors import ExerciseError
from lab.format.conversation import Message, Transcript
from lab.format.loader import load_exercise
from lab.format.tools import ToolCall
from lab.models import llm
from lab.practice.attempts import ROUNDS_SPENT, rounds_notice, run_attempt
from lab.practice.store import Store

ORDER = """---
format: 1
title: Look up an order
level: 1
model: {temperature: 0, max_tokens: 80, tool_rounds: 2}
tools:
  - name: get_order
    description: Look up an order by its number.
    parameters:
      type: object
      properties: {order_id: {type: string}, note: {type: string}}
      required: [order_id]
    result: '{"order": "{{ args.order_id }}", "status": "{{ status }}"}'
  - name: refund
    description: Refund an order.
    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
    result: 'refunded {{ args.order_id }}'
cases:
  - name: shipped
    vars: {status: shipped}
rubric:
  pass: 1.0
  criteria:
    - id: looks-up
      check: tool-called
      name: get_order
      arguments: {properties: {order_id: {const: "5512"}}, required: [order_id]}
    - id: no-refund
      check: tool-called
      name: refund
      not: true
    - id: says-status
      check: icontains
      value: "{{ status }}"
examples:
  - attempt: "Where is order 5512?"
    calls: {shipped: [{name: get_order, arguments: {order_id: "5512"}}]}
    outputs: {shipped: "Order 5512 has shipped."}
    expect: pass
  - attempt: "Where is order 5512?"
    calls: {shipped: [{name: get_order, arguments: {order_id: "5512"}}, {name: refund, arguments: {order_id: "5512"}}]}
    outputs: {shipped: "Order 5512 has shipped; I refunded it too."}
    expect: fail
---
{% block brief %}Find the order.{% endblock %}
"""

ASK = "Where is my order?\nCALL get_order {\"order_id\": \"5512\"}"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    (root / "agents").mkdir(parents=True)
    (root / "agents" / "order.j2").write_text(ORDER, encoding="utf-8")
    return root


def order(course: Path) -> Any:
    return load_exercise(course / "agents" / "order.j2", course)


def config(api_base: str, model: str = "openai/agent") -> llm.CallConfig:
    return llm.CallConfig(model, api_base, timeout=10, max_retries=0, backoff=0)


def bodies(cassette: Any) -> list[dict[str, Any]]:
    return [r.body if isinstance(r.body, dict) else json.loads(r.body) for r in cassette.requests]


def roles(transcript: Transcript) -> list[str]:
    return [("call:" + ",".join(c.name for c in m.calls)) if m.calls else m.role for m in transcript.messages]


# ---------------------------------------------------------------- the loop, shape by shape


def test_one_call_is_answered_with_the_rendered_result_and_the_model_answers_from_it(course, cassette, api_base):
    events: list[Message] = []
    with Store() as store:
        outcome = run_attempt(order(course), ASK, config=config(api_base), store=store,
                              on_tool=lambda case, sample, message: events.append(message))
    [transcript] = outcome.transcripts["shipped"]
    assert roles(transcript) == ["user", "call:get_order", "tool", "assistant"]
    assert transcript.messages[2].content == '{"order": "5512", "status": "shipped"}'
    assert outcome.outputs == {"shipped": ['{"order": "5512", "status": "shipped"}']}
    assert outcome.grade.passed
    # the tools went with every request, and the second one carried the call and its result, by id
    first, second = bodies(cassette)
    assert [t["function"]["name"] for t in first["tools"]] == ["get_order", "refund"]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["order_id"]
    assert second["messages"][1] == {"role": "assistant", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_order", "arguments": '{"order_id": "5512"}'}}]}
    assert second["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"order": "5512", "status": "shipped"}'}
    assert [m.role for m in events] == ["assistant", "tool"]  # the faces heard the call, then its result


def test_a_stream_of_tool_call_deltas_is_rebuilt_and_the_answer_streams_after_it(course, cassette, api_base):
    pieces: list[str] = []
    heard: list[str] = []
    with Store() as store:
        outcome = run_attempt(order(course), ASK, config=config(api_base), store=store,
                              on_delta=lambda case, sample, text: (pieces.append(text), heard.append("text")),
                              on_tool=lambda case, sample, message: heard.append(message.role))
    assert all(b.get("stream") for b in bodies(cassette))
    [transcript] = outcome.transcripts["shipped"]
    assert transcript.calls == (ToolCall("call_1", "get_order", '{"order_id": "5512"}'),)  # fragments joined whole
    assert "".join(pieces) == '{"order": "5512", "status": "shipped"}'
    assert heard[:2] == ["assistant", "tool"] and set(heard[2:]) == {"text"}  # in order: the call, its result, then the words
    assert outcome.finish_reasons == {"shipped": ["stop"]}


def test_parallel_calls_in_one_turn_are_each_answered_in_order(course, cassette, api_base):
    text = ASK + "\nCALL get_order {\"order_id\": \"7781\"}"
    with Store() as store:
        outcome = run_attempt(order(course), text, config=config(api_base), store=store)
    [transcript] = outcome.transcripts["shipped"]
    assert roles(transcript) == ["user", "call:get_order,get_order", "tool", "tool", "assistant"]
    assert [m.call_id for m in transcript.messages if m.role == "tool"] == ["call_1", "call_2"]
    assert outcome.outputs["shipped"] == ['{"order": "5512", "status": "shipped"}\n{"order": "7781", "status": "shipped"}']
    assert len(bodies(cassette)) == 2  # one round for both calls
    looks_up = outcome.grade.criteria[0]
    assert looks_up.passed and "1 time, with {\"order_id\": \"5512\"}" in looks_up.reason  # the call that fits


def test_a_bad_call_is_answered_with_the_validation_error_and_the_model_goes_on(course, cassette, api_base):
    text = "Where is my order?\nCALL get_order {\"order_id\": 5512}\nCALL get_orders {}\nCALL refund not json"
    with Store() as store:
        outcome = run_attempt(order(course), text, config=config(api_base), store=store)
    [transcript] = outcome.transcripts["shipped"]
    results = [m for m in transcript.messages if m.role == "tool"]
    assert [m.error for m in results] == [True, True, True]
    assert results[0].content == "error: the arguments of get_order do not fit its parameters: order_id: 5512 is not of type 'string'."
    assert results[1].content == "error: there is no tool named 'get_orders'; the tools are: get_order, refund."
    assert results[2].content == "error: the arguments of refund are not valid JSON: not json"
    assert transcript.output.startswith("error: the arguments of get_order")  # the fake answers with what it got back
    grade = {c.id: c for c in outcome.grade.criteria}
    assert not grade["looks-up"].passed and "not with the expected arguments" in grade["looks-up"].reason
    assert not grade["no-refund"].passed  # a call with broken arguments is still a call


def test_a_model_that_never_stops_calling_is_cut_off_when_the_rounds_are_spent(course, cassette, api_base, capsys):
    with Store() as store:
        outcome = run_attempt(order(course), "Hello", config=config(api_base, "openai/agent-loop"), store=store)
    [transcript] = outcome.transcripts["shipped"]
    # tool_rounds: 2 -> two rounds answered, the third turn's call left unanswered and the answer cut off
    assert roles(transcript) == ["user", "call:get_order", "tool", "call:get_order", "tool", "call:get_order"]
    assert len(bodies(cassette)) == 3
    last = transcript.messages[-1]
    assert last.cut_off and last.answer and transcript.rounds_spent and transcript.cut_off
    assert outcome.finish_reasons == {"shipped": [ROUNDS_SPENT]}
    result = outcome.to_dict()
    assert rounds_notice(result, 2) == ("The answer was cut off for case 'shipped': the model was still calling tools after 2 rounds "
                                        "(model.tool_rounds, set by the exercise), so its answer is what it said last. Ask it to "
                                        "answer once it has what it needs.")
    assert result["cases"][0]["conversations"][0][-1]["cut_off"] is True


def test_lab_grade_calls_the_tools_through_its_own_client_and_records_each_round(course, cassette, api_base, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LAB_MAX_RETRIES", "0")
    submissions = tmp_path / "class.jsonl"
    submissions.write_text(json.dumps({"format": "prompt-lab-submission/1", "learner": "ana", "exercise": "agents/order", "prompt": ASK}) + "\n", encoding="utf-8")
    code = main(["grade", str(submissions), "--out", str(tmp_path / "cohort"), "--exercises", str(course), "--model", "openai/agent",
                 "--api-base", api_base, "--concurrency", "1", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    [result] = json.loads(out)["results"]
    assert result["passed"]
    from lab.classroom.cohort import CohortStore

    with CohortStore(tmp_path / "cohort") as cohort:
        [row] = cohort.results()
        calls = cohort.calls(row.id)
    assert sorted(calls) == ["answer:shipped:0", "answer:shipped:0:r1"]  # each round of calls is a call of its own
    assert calls["answer:shipped:0"].tool_calls == (("call_1", "get_order", '{"order_id": "5512"}'),)  # kept beside its words
    conversation = row.result["cases"][0]["conversations"][0]
    assert [m["role"] for m in conversation] == ["user", "assistant", "tool", "assistant"]
    assert conversation[1]["calls"] == [{"id": "call_1", "name": "get_order", "arguments": '{"order_id": "5512"}'}]
    assert not any(b.get("stream") for b in bodies(cassette))
    # the cohort report shows each call with its arguments, its result one line until opened
    page = (tmp_path / "cohort" / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="tools">Tool calls</h2>' in page
    assert ('<details><summary><code>get_order {&quot;order_id&quot;: &quot;5512&quot;}</code> → <span>{&quot;order&quot;: &quot;5512&quot;, '
            '&quot;status&quot;: &quot;shipped&quot;}</span></summary>') in page
    # lab review's text of a conversation (what a trainer reads beside a judge's verdict) has the calls and results
    from lab.classroom.review import _output_of

    text = _output_of(row.result, "shipped", 0)
    assert '[tool call]\nget_order {"order_id": "5512"}\n\n[tool result: get_order]\n{"order": "5512", "status": "shipped"}' in text

    # a run stopped after its calls and before its grade goes on from what cohort.db recorded, calls to tools
    # included: the same conversation, and no request (the cassette plays each answer once)
    with sqlite3.connect(tmp_path / "cohort" / "cohort.db") as db:
        db.execute("UPDATE results SET status='pending', result=NULL, score=NULL, passed=NULL")
    code = main(["grade", str(submissions), "--out", str(tmp_path / "cohort"), "--exercises", str(course), "--model", "openai/agent",
                 "--api-base", api_base, "--concurrency", "1", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    with CohortStore(tmp_path / "cohort") as cohort:
        [again] = cohort.results()
    assert again.result["cases"][0]["conversations"][0] == conversation


# ---------------------------------------------------------------- grading and lab check


def test_lab_check_grades_the_examples_calls(course, capsys):
    assert main(["check", str(course)]) == 0
    out = capsys.readouterr().out
    assert "example 2: expected fail, graded fail" in out
    assert "no-refund (0.00 ×1): The model called refund 1 time, with {\"order_id\": \"5512\"}." in out


def test_reads_transcript_sees_every_call_and_result_and_the_judge_reads_it(course):
    from lab.format.messages import build_messages
    from lab.format.conversation import transcript_of
    from lab.practice.grading import grade

    exercise = order(course)
    [plan] = build_messages(exercise, "Where is 5512?")
    transcript = transcript_of(plan, ["It has shipped."], [ToolCall("call_1", "get_order", '{"order_id": "5512"}')])
    assert transcript.text() == ('[user]\nWhere is 5512?\n\n[tool call]\nget_order {"order_id": "5512"}\n\n'
                                 '[tool result: get_order]\n{"order": "5512", "status": "shipped"}\n\n[assistant]\nIt has shipped.')

    class Judge:
        asked: list[str] = []

        def supports_schema(self) -> bool:
            return False

        def ask(self, messages: list[dict[str, str]], *, response_schema: Any = None) -> str:
            self.asked.append(messages[-1]["content"])
            return "Reasoning: fine.\nGRADE: PASS"

    from dataclasses import replace

    from lab.format.exercise import Criterion
    from graders import get_check

    criterion = Criterion.model_validate({"id": "judged", "check": "judge", "rubric": "It looked the order up.", "reads": "transcript"})
    meta = exercise.meta.model_copy(update={"rubric": exercise.meta.rubric.model_copy(update={"criteria": [criterion]})})
    judged = replace(exercise, meta=meta, criterion_params={"judged": {"shipped": get_check("judge").params.model_validate({"rubric": "It looked the order up."})}})
    judge = Judge()
    g = grade(judged, {"shipped": [transcript.output]}, judge=judge, transcripts={"shipped": [transcript]}, plans={"shipped": plan})
    assert g.passed
    assert 'get_order {"order_id": "5512"}' in judge.asked[0] and '"status": "shipped"' in judge.asked[0]


def test_tool_sequence_and_times_say_what_happened():
    from graders import CheckContext, get_check

    sequence, called = get_check("tool-sequence"), get_check("tool-called")
    ctx = CheckContext(calls=(("search", {}), ("get_order", {"id": 1}), ("book", {})))
    assert sequence.fn("", sequence.params.model_validate({"names": ["search", "book"]}), ctx).passed
    wrong = sequence.fn("", sequence.params.model_validate({"names": ["book", "search"]}), ctx)
    assert not wrong.passed and wrong.score == 0.5
    assert wrong.reason == ("The model should call book → search in this order; it called search → get_order → book, and search is "
                            "missing after the calls before it.")
    twice = called.fn("", called.params.model_validate({"name": "search", "times": 2}), ctx)
    assert not twice.passed and twice.reason == "The model called search 1 time; it should call it exactly 2 times."
    none = called.fn("", called.params.model_validate({"name": "search"}), CheckContext())
    assert none.reason == "The model never called search: it called no tool at all."


# ---------------------------------------------------------------- load-time errors


def broken(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "c" / "agents" / "x.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ExerciseError) as caught:
        load_exercise(path, tmp_path / "c")
    return [f"{p.line}: {p.message} | {p.fix}" for p in caught.value.problems]


def test_an_unknown_tool_in_a_check_is_named_with_the_tools_there_are(tmp_path):
    text = ORDER.replace("      name: get_order\n      arguments", "      name: get_ordr\n      arguments")
    [problem] = broken(tmp_path, text)
    assert problem.startswith("26: criterion 'looks-up': there is no tool 'get_ordr' (did you mean 'get_order'?) | the tools are: get_order, refund")


def test_parameters_that_are_not_a_json_schema_are_named(tmp_path):
    text = ORDER.replace("      properties: {order_id: {type: string}, note: {type: string}}", "      properties: {order_id: {type: strng}}")
    [problem] = broken(tmp_path, text)
    assert problem.startswith("9: tool 'get_order': `parameters` is not a JSON Schema: ")
    assert "'strng' is not valid" in problem
    text = ORDER.replace("    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}",
                         "    parameters: {type: string}")
    [problem] = broken(tmp_path, text)
    assert "tool 'refund': `parameters` must describe an object (`type: object`)" in problem


def test_a_tool_name_that_is_not_a_function_name_gets_the_fix_for_tool_names(tmp_path):
    text = ORDER.replace("  - name: get_order\n", "  - name: get.order\n", 1)
    problems = broken(tmp_path, text)
    assert any("'tools.0.name': String should match pattern" in p and
               p.endswith("| use letters, digits, '-' and '_' (at most 64), as APIs take a function's name") for p in problems), problems


def test_a_schema_with_an_infinite_minimum_loads(tmp_path):
    """`minimum: .inf` (or 10**400) is valid JSON Schema: the result is tried with the arguments it can, not with int(inf)."""
    text = ORDER.replace("      properties: {order_id: {type: string}, note: {type: string}}",
                         "      properties: {order_id: {type: string}, note: {type: string}, qty: {type: integer, minimum: .inf},"
                         " weight: {type: number, minimum: .nan}, count: {type: integer, minimum: 1" + "0" * 400 + "}}")
    path = tmp_path / "c" / "agents" / "x.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    assert load_exercise(path, tmp_path / "c").meta.tools[0].name == "get_order"


def test_arguments_nested_past_python_s_stack_read_as_not_json():
    from lab.format.tools import ToolCall

    call = ToolCall("c1", "get_order", "[" * 100_000)
    assert call.args is None and call.shown().startswith("get_order [[[")


def test_a_result_that_renders_an_undefined_name_is_named(tmp_path):
    [problem] = broken(tmp_path, ORDER.replace('"status": "{{ status }}"', '"status": "{{ state }}"'))
    assert problem.startswith("13: tool 'get_order': it cannot be made: 'state' is not defined (case 'shipped') | use the case's vars")
    # an argument the call may leave out needs a default
    [problem] = broken(tmp_path, ORDER.replace('"status": "{{ status }}"', '"note": "{{ args.note }}"'))
    assert "the argument 'note' is not in `required`, so a call may leave it out (write `args.note | default('')`)" in problem
    [problem] = broken(tmp_path, ORDER.replace('"status": "{{ status }}"', '"id": "{{ args.order }}"'))
    assert "'order' is not an argument of the tool (its parameters have no such property)" in problem


def test_the_other_tool_shapes_that_cannot_work_are_named(tmp_path):
    no_tools = ORDER.split("tools:")[0] + "cases:" + ORDER.split("cases:", 1)[1]
    problems = broken(tmp_path, no_tools)
    assert any("`model.tool_rounds` counts rounds of tool calls, but the exercise has no `tools:`" in p for p in problems)
    assert any("check 'tool-called' reads the model's tool calls, but the exercise has no `tools:`" in p for p in problems)
    assert any("example 1 gives the model's calls, but the exercise has no `tools:`" in p for p in problems)
    problems = broken(tmp_path, ORDER.replace("level: 1\n", "level: 1\nwrites: answer\n"))
    assert any("`writes: answer` calls no model, so its tools would never be called" in p for p in problems)
    problems = broken(tmp_path, ORDER + "{% block prefill %}{{ '{' }}{% endblock %}\n")
    assert any("a prefill cannot be combined with tools" in p for p in problems)
    problems = broken(tmp_path, ORDER.replace("calls: {shipped: [{name: get_order,", "calls: {shipped: [{name: lookup,"))
    assert any("example 1, case 'shipped': a call to 'lookup', which is not a tool of this exercise" in p for p in problems)


# ---------------------------------------------------------------- notices, the test server


def test_the_tools_notice_speaks_only_where_litellm_says_the_model_cannot_call_tools(course):
    from lab.practice.attempts import tools_notice

    exercise = order(course)
    assert tools_notice(exercise, "openai/echo") is None  # a model litellm does not list: nothing to say
    assert tools_notice(exercise, "openai/gpt-4o-mini") is None
    assert tools_notice(exercise, "ollama/llama2") == (  # litellm would put the tools in the prompt as text
        "litellm lists ollama/llama2 as unable to call tools, so it may answer without calling any and fail the "
        "criteria on its calls; choose a model that can call functions.")


def test_a_provider_litellm_cannot_send_tools_to_is_one_sentence_and_nothing_sent():
    class UnsupportedParamsError(Exception):
        pass

    error = llm.describe_error(UnsupportedParamsError("litellm.UnsupportedParamsError: Function calling is not supported by x."),
                               llm.CallConfig("x/y", None))
    assert str(error) == "x/y cannot call tools: litellm does not support function calling for its provider; choose a model that can (for Ollama, name it ollama_chat/…)."
    assert error.sent is False


def test_the_test_server_numbers_calls_through_the_conversation():
    from lab.testserver import agent_calls

    body = {"tools": [{"function": {"name": "t"}}], "messages": [
        {"role": "user", "content": "CALL t {}"},
        {"role": "assistant", "tool_calls": [{"id": "call_1"}]}, {"role": "tool", "content": "CALL t {\"a\": 1}\nCALL u"}]}
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in agent_calls(body)] == [
        ("call_2", "t", '{"a": 1}'), ("call_3", "u", "{}")]


# ---------------------------------------------------------------- faces


def test_lab_show_lists_the_tools(course, capsys):
    assert main(["show", "agents/order", "--exercises", str(course)]) == 0
    out = capsys.readouterr().out
    assert "## Tools\n\nThe model may call these tools; the lab answers each call (an argument marked ? may be left out).\n\n" \
           "get_order(order_id: string, note?: string)\nLook up an order by its number.\n\nrefund(order_id: string)\n" in out
    assert main(["show", "agents/order", "--exercises", str(course), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in shown["tools"]] == ["get_order", "refund"] and shown["tool_rounds"] == 2


def test_lab_run_and_lab_attempt_show_each_call_and_each_result_in_order(course, cassette, api_base, capsys):
    long = "Where is my order?\nCALL get_order {\"order_id\": \"" + "5" * 120 + "\"}"
    code = main(["run", "agents/order", "--exercises", str(course), "--model", "openai/agent", "--api-base", api_base, "--prompt", long])
    out = capsys.readouterr().out
    assert code == 1
    call = out.index('[call] get_order {"order_id": "55555')
    result = out.index('[result · get_order] {"order": "55555')
    assert call < result < out.index("[answer]\n")
    line = out[result:].splitlines()[0]
    assert line.endswith("…") and len(line) < 130  # collapsed to one line
    assert "A tool's result is shown on one line; `lab attempt 1 --open` shows each one whole." in out
    assert main(["attempt", "last"]) == 0
    shown = capsys.readouterr().out
    assert '[call] get_order {"order_id": "' in shown and "--open` shows them whole" in shown
    assert main(["attempt", "last", "--open"]) == 0
    opened = capsys.readouterr().out
    assert '[result · get_order]\n{"order": "' + "5" * 120 + '", "status": "shipped"}' in opened


def test_the_estimate_counts_the_calls_tool_rounds_may_add(course):
    from lab.practice.spending import estimate_attempt

    estimate = estimate_attempt(order(course), ASK, model="openai/echo", samples=3)
    assert (estimate.calls, estimate.tool_calls) == (3, 6)  # tool_rounds: 2, a round each
    assert "Estimate: 3 calls (1 case × 3 samples) · + up to 6 calls for tool rounds · " in estimate.summary()
