"""Ports of the reference tutorial's exercises (Anthropic's interactive prompt-engineering tutorial) that need
more than one user message: a system prompt, a system prompt and a prompt, a prefill alone, a prompt and a
prefill, and the conversation so far. Written in our own words in tests/fixtures/tutorial/ports; each keeps
its lever (the text the learner edits) and proves its rubric with a passing and a failing example."""

from __future__ import annotations

from pathlib import Path

from lab.format.loader import load_paths
from lab.models import llm
from lab.practice.attempts import run_attempt
from lab.practice.checking import check_examples
from lab.practice.store import Store

PORTS = Path(__file__).resolve().parent / "fixtures" / "tutorial"


def test_every_port_loads_and_its_examples_behave():
    catalog = load_paths([PORTS])
    assert [str(p) for p in catalog.problems] == []
    verdicts = [(e.id, v.verdict, v.expect) for e in catalog.exercises for v in check_examples(e)]
    assert len(verdicts) == 14 and all(verdict == expect for _, verdict, expect in verdicts), verdicts


def test_the_ports_use_every_lever_the_tutorial_gives_a_learner():
    exercises = {e.id: e for e in load_paths([PORTS]).exercises}
    levers = {exercise_id: e.texts for exercise_id, e in exercises.items()}
    assert levers == {
        "ports/child-voice": ("system",),  # 1.2: the system prompt alone
        "ports/math-check": ("system", "prompt"),  # 3.1: both
        "ports/goat-prefill": ("prefill",),  # 5.1: the start of the answer alone, the one the format could not pose
        "ports/two-haikus": ("prompt", "prefill"),  # 5.2, 5.3
        "ports/classify-emails": ("prompt", "prefill"),  # 6.1, 6.2
        "ports/dont-know": ("system", "prompt"),  # 8.1
        "ports/complex-chat": ("system", "prompt", "prefill"),  # 9.1, with the conversation so far
    }
    assert exercises["ports/complex-chat"].meta.turns  # a case that starts mid-conversation


def test_the_prefill_only_port_runs_end_to_end(cassette, api_base, provider):
    exercise = next(e for e in load_paths([PORTS]).exercises if e.id == "ports/goat-prefill")
    if provider is not None:  # recording: the scripted model would have written the whole argument
        provider.rules = [("best basketball player", "Stephen Curry is the best because he remade the Warriors and the game.")]
    config = llm.CallConfig("openai/scripted", api_base, timeout=10, max_retries=0, backoff=0)
    with Store() as store:
        outcome = run_attempt(exercise, "Stephen Curry is the best because", config=config, store=store)
    assert outcome.outputs == {"goat": ["Stephen Curry is the best because he remade the Warriors and the game."]}
    assert outcome.grade.passed
