"""A French exercise's screen speaks French (labels, button, hints, grade); the lab around it stays English."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.exercise_files import minimal, write_exercise
from textual.widgets import Button, Collapsible, Static
from tui_helpers import compare_first_two_attempts, make_app, open_exercise, screen_text, wait_for

FRENCH = minimal(
    id="fr/saluer", title="Saluer", track="bases", level=1, lang="fr-CA", minutes=5,
    cases=[{"name": "ana", "vars": {"mot": "Bonjour"}}, {"name": "bo", "vars": {"mot": "Bonjour Bo"}}],
    rubric={"pass": 1.0, "criteria": [{"id": "bonjour", "check": "icontains", "value": "bonjour", "feedback": "Dites bonjour."}]},
    hints=["Un seul mot suffit.", "Dites « bonjour »."],
)
TEMPLATE = ("{% block brief %}Saluez.{% endblock %}\n{% block system %}Soyez bref.{% endblock %}\n"
            "{% block solution %}Bonjour{% endblock %}\n")


@pytest.fixture
def french_course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cours"
    write_exercise(root, "bases/saluer.j2", FRENCH, TEMPLATE)
    monkeypatch.setenv("LAB_EXERCISES", str(root))
    return root


async def test_the_screen_of_a_french_exercise_shows_french_labels(french_course: Path):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_exercise(pilot, "fr/saluer")
        meta = str(screen.query_one("#meta", Static).render())
        assert "bases · niveau 1 · 5 min · vous écrivez le prompt" in meta
        assert str(screen.query_one("#send", Button).label) == "Envoyer"
        assert screen.query_one("#system", Collapsible).title == "Prompt système fixé par l’exercice"
        assert screen.query_one("#cases", Collapsible).title == "Cas (2) : un appel chacun"
        assert screen.query_one("#solution", Collapsible).title == "Solution modèle"
        assert str(screen.query_one("#editor-label", Static).render()).startswith("Votre prompt (ctrl+j l’envoie ; écrivez {{ nom }}")
        assert "2 indices restants : appuyez sur h (ou f2)." in str(screen.query_one("#hints", Static).render())
        await pilot.press("escape", "h")  # leave the editor, then take a hint
        await wait_for(pilot, lambda: "Indice 1/2 :" in str(screen.query_one("#hints", Static).render()), "the first hint")
        hints = str(screen.query_one("#hints", Static).render())
        assert "Indice 1/2 : Un seul mot suffit." in hints and "1 indice restant : appuyez sur h (ou f2)." in hints
        text = screen_text(app)
        assert "Envoyer" in text and "vous écrivez le prompt" in text
        footer = text.splitlines()[-1]
        assert "^j Envoyer" in footer and "h Indice" in footer and "t Brut/Markdown" in footer  # this screen's keys
        assert "Send" not in text and "you write" not in text


async def test_a_french_grade_on_screen_is_in_french(french_course: Path):
    from lab.format.loader import load_exercise
    from lab.practice.grading import grade, grade_to_dict
    from lab.tui.widgets.grade import GradeView

    exercise = load_exercise(french_course / "bases" / "saluer.j2", french_course)
    result = grade_to_dict(grade(exercise, {"ana": ["Bonjour"], "bo": ["Bonjour Bo"]}))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_exercise(pilot, "fr/saluer")
        screen.query_one(GradeView).show_result(result)
        await pilot.pause()
        text = screen_text(app)
        assert "Réussi sur les 2 sorties." in text
        assert "Score 1.00 · seuil de réussite 1.00 · RÉUSSI" in text
        assert "jetons de prompt" in text


async def test_comparing_two_attempts_at_a_french_exercise_is_in_french(french_course: Path):
    """The lab's comparison words its criteria as `lab compare` does, in the exercise's language."""
    from lab.format.loader import load_exercise
    from lab.practice.attempts import Usage, outcome_dict
    from lab.practice.grading import grade
    from lab.practice.store import Store

    exercise = load_exercise(french_course / "bases" / "saluer.j2", french_course)
    with Store() as store:
        for prompt, outputs in (("Salut", {"ana": ["Salut"], "bo": ["Salut Bo"]}), ("Bonjour", {"ana": ["Bonjour"], "bo": ["Bonjour Bo"]})):
            attempt = store.begin_attempt(exercise_id=exercise.id, exercise_hash=exercise.content_hash, track=exercise.track,
                                          model="openai/echo", api_base=None, prompt=prompt)
            g = grade(exercise, outputs)
            store.finish_attempt(attempt, status="graded", score=g.score, passed=g.passed,
                                 result=outcome_dict(exercise, "openai/echo", g, outputs, Usage(), attempt, 0.1))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await compare_first_two_attempts(pilot, "fr/saluer")
        text = screen_text(app)
        assert "Comparaison de #1" in text and "1 critère a changé de verdict :" in text and "réussit désormais" in text
        assert "Prompt" in text and "changed" not in text and "Comparing" not in text
