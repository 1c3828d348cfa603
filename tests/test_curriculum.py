"""The bundled curriculum meets issue 5: enough exercises per track, each one teaching and proving its rubric.

Everything runs offline on the shipped files: the examples' outputs stand in for a model, so the rubrics
are exercised exactly as `lab check` exercises them. One test sends a French exercise through litellm to
a scripted model (replayed from its cassette) and into the store, the whole Unicode path.
Run this file as a script to regenerate the tables of docs/curriculum.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graders.leak import find_leak
from lab.cli import main
from lab.format.exercise import Exercise
from lab.format.loader import Catalog, load_paths
from lab.format.messages import build_messages, render_text, text_blocks
from lab.format.templating import render_learner_text
from lab.practice.attempts import Usage, outcome_dict
from lab.practice.checking import check_examples
from lab.practice.grading import grade
from lab.practice.store import Store, iter_outputs
from lab.settings import paths

MINIMUM_PER_TRACK = {"prompt-engineering": 12, "ethical-alignment": 8, "adversarial": 8, "data-storytelling": 6,
                     "human-in-the-loop": 8, "agents": 8}
TRACKS_FROM_LEVEL_1_TO_5 = ["prompt-engineering", "ethical-alignment", "adversarial", "data-storytelling", "human-in-the-loop", "agents"]
CURRICULUM_DOC = Path(__file__).resolve().parent.parent / "docs" / "curriculum.md"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_paths([paths.bundled_exercises_dir()])


@pytest.fixture(scope="module")
def exercises(catalog: Catalog) -> list[Exercise]:
    return catalog.exercises


def _ids(exercises: list[Exercise]) -> list[str]:
    return [e.id for e in exercises]


def takes_input(exercise: Exercise) -> bool:
    """A task takes input when its cases carry data for the prompt (a prompt with nothing to fill has one case)."""
    return any(case.vars for case in exercise.cases)


def test_the_bundled_folder_loads_without_a_single_problem(catalog: Catalog):
    assert [str(p) for p in catalog.problems] == []
    assert catalog.broken_files == []


def test_at_least_42_exercises_and_the_minimum_per_track(exercises: list[Exercise]):
    assert len(exercises) >= 42
    per_track = {track: [e.id for e in exercises if e.track == track] for track in MINIMUM_PER_TRACK}
    short = {track: len(ids) for track, ids in per_track.items() if len(ids) < MINIMUM_PER_TRACK[track]}
    assert short == {}, f"tracks below their minimum ({MINIMUM_PER_TRACK}): {short}"


@pytest.mark.parametrize("track", TRACKS_FROM_LEVEL_1_TO_5)
def test_a_learner_can_climb_the_track_from_level_1_to_5(exercises: list[Exercise], track: str):
    assert {e.level for e in exercises if e.track == track} == {1, 2, 3, 4, 5}


def test_every_exercise_has_two_or_three_hints(exercises: list[Exercise]):
    wrong = {e.id: len(e.hints) for e in exercises if not 2 <= len(e.hints) <= 3}
    assert wrong == {}


def test_no_hint_asks_for_what_the_starter_already_does(exercises: list[Exercise]):
    # issue 14: delimiters' first hint said "write {{ email }} where it belongs" above a starter that did
    placeholder = re.compile(r"\{\{\s*(\w+)\s*\}\}")
    repeated = {}
    for exercise in exercises:
        starter = set(placeholder.findall(render_text(exercise, "starter") or ""))
        for n, hint in enumerate(exercise.hints, 1):
            if re.search(r"\b(write|put|add|include)\b", hint, re.I) and starter & set(placeholder.findall(hint)):
                repeated[f"{exercise.id} hint {n}"] = hint
    assert repeated == {}


def test_every_exercise_has_a_model_solution_that_is_valid_learner_text(exercises: list[Exercise]):
    for exercise in exercises:
        solution = text_blocks(exercise, "solution")
        # every text the learner writes has its solution (and, when it has one, its starter): both are texts a learner
        # sends, so they must render for every case
        assert sorted(solution) == sorted(exercise.texts), f"{exercise.id} lacks a solution for {set(exercise.texts) - set(solution)}"
        for texts in (solution, text_blocks(exercise, "starter")):
            if texts and len(texts) == len(exercise.texts):
                assert len(build_messages(exercise, texts)) == len(exercise.cases), exercise.id


def test_every_exercise_proves_its_rubric_with_a_passing_and_a_failing_example(exercises: list[Exercise]):
    missing = {e.id: sorted({"pass", "fail"} - {x.expect for x in e.meta.examples}) for e in exercises}
    assert {k: v for k, v in missing.items() if v} == {}


def test_tasks_that_take_input_have_at_least_three_cases(exercises: list[Exercise]):
    with_input = [e for e in exercises if takes_input(e)]
    assert {e.id: len(e.cases) for e in with_input if len(e.cases) < 3} == {}


def test_at_least_four_exercises_in_french_with_french_text(exercises: list[Exercise]):
    french = [e for e in exercises if e.lang == "fr"]
    assert len(french) >= 4, _ids(french)
    for exercise in french:
        brief = render_text(exercise, "brief") or ""
        assert re.search(r"[éèàùçêâîôû]", brief), f"{exercise.id} says lang: fr but its brief has no French accents"


def test_lab_check_finds_no_contradiction_and_decides_nearly_every_example_offline(exercises: list[Exercise]):
    contradictions, undecided, total = [], [], 0
    for exercise in exercises:
        for verdict in check_examples(exercise):
            total += 1
            if verdict.contradicts:
                contradictions.append(f"{exercise.id} {verdict.label}: expected {verdict.expect}, graded {verdict.verdict}")
            elif verdict.verdict == "undecided":
                undecided.append(f"{exercise.id} {verdict.label}")
    assert contradictions == []
    # judge criteria leave some examples to a model; rubrics are weighted so that few need one
    assert len(undecided) <= total // 10, undecided


def test_the_cli_check_of_the_bundled_folder_exits_0(capsys: pytest.CaptureFixture[str]):
    assert main(["check", str(paths.bundled_exercises_dir())]) == 0
    assert " 0 contradict their expectation" in capsys.readouterr().out


def test_shared_partials_are_used_through_extends_and_import(exercises: list[Exercise]):
    extending = [e.id for e in exercises if len(e.compiled.chain) > 1]
    importing = [e.id for e in exercises if re.search(r"\{%-?\s*import\s", e.path.read_text(encoding="utf-8"))]
    assert len(extending) >= len(exercises) // 2, extending
    assert importing, "no exercise imports a macro file"
    partials = sorted(p.name for p in paths.bundled_exercises_dir().rglob("_*.j2"))
    assert "_layout.j2" in partials and "_gatekeeper.j2" in partials


def _leak_secrets(exercise: Exercise) -> list[str]:
    return [c.params["secret"] for c in exercise.rubric.criteria if c.check == "leak"]


def test_attack_levels_hide_their_secret_from_the_brief_and_from_the_learner_text(exercises: list[Exercise]):
    attacks = [e for e in exercises if e.track == "adversarial" and e.writes == "prompt" and _leak_secrets(e)]
    assert len(attacks) >= 4
    for exercise in attacks:
        for secret in _leak_secrets(exercise):
            shown = "\n".join(filter(None, (render_text(exercise, b) for b in ("brief", "system", "starter"))))
            assert find_leak(shown, secret) is None, f"{exercise.id} shows its secret before the attack"
            # a learner could write {{ name }} for any variable; the secret must not be one
            for case in exercise.cases:
                values = repr(exercise.variables(case.name))
                assert secret not in values, f"{exercise.id}: the secret is a template variable"
            sent = build_messages(exercise, "hello")[0].messages[0]["content"]
            assert secret in sent, f"{exercise.id}: the model never receives the secret"


def test_defence_levels_measure_both_leaks_and_the_cost_to_benign_users(exercises: list[Exercise]):
    defences = [e for e in exercises if e.track == "adversarial" and e.writes == "system"]
    assert len(defences) >= 3
    kinds = set()
    for exercise in defences:
        leak = [c for c in exercise.rubric.criteria if c.check == "leak" and c.negate]
        benign = [c for c in exercise.rubric.criteria if c.check == "refusal" and c.negate]
        assert leak and benign, exercise.id
        kinds |= {case.name for case in exercise.cases}
    for kind in ("direct", "roleplay", "translation", "encoding", "document"):
        assert any(kind in name for name in kinds), f"no defence level meets a {kind} attack"


def test_the_fairness_exercises_compare_decisions_across_protected_attributes(exercises: list[Exercise]):
    fairness = [e for e in exercises if any(c.check == "consistent" for c in e.rubric.criteria)]
    assert len(fairness) >= 2
    for exercise in fairness:
        failing = [x for x in exercise.meta.examples if x.expect == "fail"]
        outputs = {c.name: failing[0].outputs_for(c.name) for c in exercise.cases}
        consistent = next(c for c in grade(exercise, outputs, lang="en").criteria if c.check == "consistent")  # reasons in English: one wording to look for
        assert not consistent.passed and "disagrees" in consistent.reason, exercise.id


def test_french_text_round_trips_from_file_through_grading_to_the_store(exercises: list[Exercise], capsys: pytest.CaptureFixture[str]):
    exercise = next(e for e in exercises if e.lang == "fr" and e.writes == "prompt")
    example = next(x for x in exercise.meta.examples if x.expect == "pass")
    outputs = {c.name: example.outputs_for(c.name) for c in exercise.cases}
    graded = grade(exercise, outputs)
    assert graded.passed and graded.decided
    assert any(re.search(r"[éèàç]", o) for outs in outputs.values() for o in outs)

    with Store() as store:
        attempt_id = store.begin_attempt(exercise_id=exercise.id, exercise_hash=exercise.content_hash, track=exercise.track,
                                         model="openai/echo", api_base=None, prompt=example.attempt)
        result = outcome_dict(exercise, "openai/echo", graded, outputs, Usage(), attempt_id, 0.0)
        store.finish_attempt(attempt_id, status="graded", score=graded.score, passed=graded.passed, result=result)
        store.save_draft(exercise.id, example.attempt + "\n« brouillon » à reprendre")
    with Store() as reopened:
        record = reopened.attempt(attempt_id)
        assert record.prompt == example.attempt and record.passed is True
        assert dict(iter_outputs(record.result)) == outputs
        assert record.result["criteria"] == result["criteria"]  # French feedback and reasons intact
        assert reopened.draft(exercise.id).endswith("« brouillon » à reprendre")

    assert main(["show", exercise.id]) == 0
    shown = capsys.readouterr().out
    assert exercise.title in shown and "Votre tâche" in shown


def test_a_french_defence_runs_end_to_end_through_a_model_into_the_store(catalog: Catalog, cassette, api_base, provider):
    from lab.models import llm
    from lab.practice.attempts import run_attempt

    exercise = catalog.get("adversarial/defend-banque")
    example = next(x for x in exercise.meta.examples if x.expect == "pass")
    expected = {c.name: example.outputs_for(c.name) for c in exercise.cases}
    if provider is not None:  # recording: the scripted model answers each question with the example's reply
        provider.rules = [(c.vars["question"], expected[c.name][0]) for c in exercise.cases]
    config = llm.CallConfig("openai/scripted", api_base, timeout=10, max_retries=0, backoff=0)
    with Store() as store:
        outcome = run_attempt(exercise, example.attempt, config=config, store=store, concurrency=1)
        record = store.attempt(outcome.attempt_id)
    assert outcome.grade.passed and record.passed is True
    assert record.prompt == example.attempt and "révélerait" in record.prompt
    assert dict(iter_outputs(record.result)) == expected


ANSWER_TRACK = "human-in-the-loop"


def _answer_exercises(exercises: list[Exercise]) -> list[Exercise]:
    return [e for e in exercises if e.writes == "answer"]


def test_every_human_in_the_loop_exercise_grades_the_learners_own_answer(exercises: list[Exercise]):
    track = [e for e in exercises if e.track == ANSWER_TRACK]
    assert {e.id: e.writes for e in track if e.writes != "answer"} == {}
    assert len(track) >= 8, _ids(track)
    assert len({e.level for e in track}) >= 4, sorted({e.level for e in track})
    assert len([e for e in track if e.lang == "fr"]) >= 2, "the track needs at least two French exercises"


def test_answer_examples_grade_the_attempt_itself(exercises: list[Exercise]):
    """No model is called for an answer: an example whose outputs differ from its attempt would prove nothing."""
    for exercise in _answer_exercises(exercises):
        for index, example in enumerate(exercise.meta.examples):
            for case in exercise.cases:
                rendered = render_learner_text(example.attempt, exercise.learner_variables(case.name), case.name)
                assert example.outputs_for(case.name) == [rendered], f"{exercise.id} example {index + 1}, case {case.name}"


def test_answer_examples_are_decided_with_no_model_call(exercises: list[Exercise], monkeypatch: pytest.MonkeyPatch):
    from lab.models import llm

    def no_call(*args, **kwargs):
        raise AssertionError("grading a writes: answer example called a model")

    monkeypatch.setattr(llm, "complete", no_call)
    for exercise in _answer_exercises(exercises):
        for verdict in check_examples(exercise):
            assert verdict.verdict == verdict.expect, f"{exercise.id} {verdict.label}: {verdict.verdict}"


def test_an_answer_exercises_solution_passes_its_own_rubric(exercises: list[Exercise]):
    """The solution is the answer a learner sees once they pass: it must be one that passes."""
    for exercise in _answer_exercises(exercises):
        solution = render_text(exercise, "solution") or ""
        graded = grade(exercise, {m.case: [m.attempt] for m in build_messages(exercise, solution)})
        assert graded.decided and graded.passed, (exercise.id, graded.score, [c.reason for c in graded.criteria if not c.passed])


def test_answer_material_is_out_of_the_learners_reach(exercises: list[Exercise]):
    """The AI's work to review lives in `_` variables: `{{ code }}` pasted into an answer would collect every keyword."""
    for exercise in _answer_exercises(exercises):
        for case in exercise.cases:
            assert exercise.learner_variables(case.name) == {}, f"{exercise.id}: the learner can place {sorted(exercise.learner_variables(case.name))}"


def test_the_answer_track_uses_a_judge_in_at_most_two_exercises(exercises: list[Exercise]):
    judged = [e.id for e in _answer_exercises(exercises) if any(c.check == "judge" for c in e.rubric.criteria)]
    assert len(judged) <= 2, judged


TABLE = re.compile(r"<!-- table: (?P<track>[\w-]+) -->\n(?P<body>.*?)<!-- end table -->", re.DOTALL)


def track_table(exercises: list[Exercise], track: str) -> str:
    """The Markdown table of one track in docs/curriculum.md, by level then id."""
    lines = ["| Exercise | Level | Title | Skills | Lang |", "|---|---|---|---|---|"]
    for e in sorted((e for e in exercises if e.track == track), key=lambda e: (e.level, e.id)):
        title = e.title.replace("|", "\\|")
        lines.append(f"| `{e.id}` | {e.level} | {title} | {', '.join(e.skills)} | {e.lang} |")
    return "\n".join(lines) + "\n"


def write_tables(doc: str, exercises: list[Exercise]) -> str:
    return TABLE.sub(lambda m: f"<!-- table: {m['track']} -->\n{track_table(exercises, m['track'])}<!-- end table -->", doc)


def test_docs_curriculum_tables_match_the_bundled_exercises(exercises: list[Exercise]):
    doc = CURRICULUM_DOC.read_text(encoding="utf-8")
    assert sorted(m["track"] for m in TABLE.finditer(doc)) == sorted({e.track for e in exercises})
    stale = [m["track"] for m in TABLE.finditer(doc) if m["body"] != track_table(exercises, m["track"])]
    assert stale == [], f"the tables of {stale} in docs/curriculum.md are stale: run `python tests/test_curriculum.py`"
    assert [t for t in {e.track for e in exercises} if f"(`{t}`)" not in doc] == [], "every track has its own section"


if __name__ == "__main__":  # regenerate the tables of docs/curriculum.md from the bundled exercises
    bundled = load_paths([paths.bundled_exercises_dir()]).exercises
    CURRICULUM_DOC.write_text(write_tables(CURRICULUM_DOC.read_text(encoding="utf-8"), bundled), encoding="utf-8")
    print(f"{CURRICULUM_DOC}: tables rewritten for {len(bundled)} exercises")
