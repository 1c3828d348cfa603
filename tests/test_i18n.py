"""The lab's own words around a French exercise are French; around any other, English.

The catalogues (lab/settings/locale) are complete and current: every marked string is in both, every French
one is translated with the same placeholders, and the committed .mo files are the .po compiled.
"""

from __future__ import annotations

import re
import string
import sys
from pathlib import Path

import pytest
from fixtures.exercise_files import load, minimal, write_exercise

from lab.cli import main
from lab.practice.grading import grade
from lab.settings.i18n import language, translator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import i18n as catalogues  # noqa: E402  (tools/i18n.py: Babel, a test dependency)


def bonjour(lang: str) -> dict:
    """Two cases whose outputs (the echo model repeats the prompt) have one word and two words."""
    return minimal(
        id="t/bonjour", title="Dire bonjour", track="bases", level=2, lang=lang, writes="prompt",
        cases=[{"name": "ana", "vars": {"mot": "Bonjour"}}, {"name": "bo", "vars": {"mot": "Bonjour Bo"}}],
        rubric={"pass": 1.0, "criteria": [
            {"id": "bonjour", "check": "icontains", "value": "bonjour", "feedback": "Dites bonjour."},
            {"id": "court-ana", "check": "max-words", "value": 3, "cases": ["ana"]},
            {"id": "court-bo", "check": "max-words", "value": 3, "cases": ["bo"]},
        ]},
        hints=["Un seul mot suffit."],
        examples=[{"attempt": "{{ mot }}", "outputs": {"ana": "Bonjour", "bo": "Bonjour Bo"}, "expect": "pass"},
                  {"attempt": "Salut", "outputs": {"ana": "Salut", "bo": "Salut"}, "expect": "fail"}],
    )


TEMPLATE = "{% block brief %}Saluez en trois mots au plus.{% endblock %}\n{% block solution %}{{ '{{ mot }}' }}{% endblock %}\n"


def course(tmp_path: Path, lang: str, template: str = TEMPLATE) -> Path:
    root = tmp_path / "course"
    write_exercise(root, "bases/bonjour.j2", bonjour(lang), template)
    return root


def lab(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run(root: Path, api_base: str, prompt: str) -> list[str]:
    return ["run", "t/bonjour", "--exercises", str(root), "--model", "openai/echo", "--api-base", api_base, "--prompt", prompt]


# ------------------------------------------------------------------ which language


@pytest.mark.parametrize(("tag", "expected"), [
    ("fr", "fr"), ("fr-FR", "fr"), ("fr-CA", "fr"), ("FR-be", "fr"),
    ("en", "en"), ("en-GB", "en"), ("de", "en"), ("es-ES", "en"), ("frr", "en"), (None, "en"),
])
def test_the_language_is_the_exercise_lang_french_or_else_english(tag, expected):
    assert language(tag) == expected


# ------------------------------------------------------------------ lab run


def test_lab_run_of_a_french_exercise_speaks_french_with_the_right_plurals(capsys, tmp_path: Path, cassette, api_base):
    code, out, err = lab(capsys, *run(course(tmp_path, "fr-CA"), api_base, "{{ mot }}"))
    assert code == 0, err
    lines = out.splitlines()
    assert re.fullmatch(r"Estimation : 2 appels \(2 cas × 1 échantillon\) · ~\d+ jetons de prompt · prix inconnu pour openai/echo",
                        lines[0]), lines[0]
    assert lines[1:5] == ["── ana ──", "Bonjour", "── bo ──", "Bonjour Bo"]
    assert re.fullmatch(r"Dépensé : \$0\.0000 cette séance · \$0\.0000 aujourd'hui", lines[-1]), lines[-1]
    [said] = [line for line in lines if line.startswith(" ✓ bonjour ")]
    assert said.endswith("Réussi sur les 2 sorties.")
    assert any(line.startswith(" ✓ court-ana") and line.endswith("La sortie a 1 mot (3 au maximum).") for line in lines)
    assert any(line.startswith(" ✓ court-bo") and line.endswith("La sortie a 2 mots (3 au maximum).") for line in lines)
    assert "Score 1.00 (seuil de réussite 1.00) : RÉUSSI" in lines
    [usage] = [line for line in lines if "tentative n°" in line]
    assert re.fullmatch(r"\d+ jetons de prompt \+ \d+ jetons de réponse · \$0\.0000 · [\d.]+ s · tentative n° 1", usage), usage
    assert "Passed" not in out and "output" not in out


def test_lab_run_of_a_french_exercise_that_fails_says_why_in_french(capsys, tmp_path: Path, cassette, api_base):
    code, out, _ = lab(capsys, *run(course(tmp_path, "fr"), api_base, "Salut"))
    assert code == 1
    assert ("Échoue sur 2 des 2 sorties. ana : La sortie ne contient pas “bonjour”, même sans tenir compte de la casse. "
            "Échoue aussi sur : bo.") in out
    assert "→ Dites bonjour." in out
    assert "Score 0.67 (seuil de réussite 1.00) : NON RÉUSSI" in out


def test_lab_run_of_an_exercise_in_another_language_stays_english(capsys, tmp_path: Path, cassette, api_base):
    code, out, err = lab(capsys, *run(course(tmp_path, "de"), api_base, "{{ mot }}"))
    assert code == 0, err
    assert "Passed on all 2 outputs." in out and "The output has 1 word (at most 3 allowed)." in out
    assert "Score 1.00 (pass mark 1.00): PASSED" in out
    assert re.search(r"\d+ prompt \+ \d+ completion tokens · .* · attempt #1", out)
    assert out.startswith("Estimate: 2 calls (2 cases × 1 sample) · ~") and "Spent: $0.0000 this session · $0.0000 today" in out


# ------------------------------------------------------------------ lab show, hint, solution


def test_lab_show_hint_and_solution_of_a_french_exercise_speak_french(capsys, tmp_path: Path):
    root = course(tmp_path, "fr-FR", TEMPLATE + "{% block user %}{{ attempt }}\n\nPour {{ mot }}.{% endblock %}\n")
    code, out, _ = lab(capsys, "show", "t/bonjour", "--exercises", str(root))
    assert code == 0
    assert out.startswith("# Dire bonjour\n\nt/bonjour · bases · niveau 2 · vous écrivez le prompt\n\nSaluez en trois mots au plus.\n")
    assert "\n## Cas : ana\n\nmot: Bonjour\n\n[user]\n«votre prompt»\n\nPour Bonjour.\n" in out
    assert out.endswith("Cas : ana, bo · seuil de réussite 1.00 · 1 indice\n")

    code, out, err = lab(capsys, "solution", "t/bonjour", "--exercises", str(root))
    assert (code, out) == (1, "")
    assert err == "lab: La solution de t/bonjour s’ouvre une fois l’exercice réussi : seuil de réussite 1.00.\n"

    code, out, _ = lab(capsys, "hint", "t/bonjour", "--exercises", str(root))
    assert (code, out) == (0, "Indice 1/1 : Un seul mot suffit.\n1 indice sur 1 révélé.\n")
    code, _, err = lab(capsys, "hint", "t/bonjour", "2", "--exercises", str(root))
    assert (code, err) == (2, "lab: t/bonjour a 1 indice : demandez un numéro de 1 à 1.\n")


def test_lab_check_stays_english_for_authors_of_a_french_exercise(capsys, tmp_path: Path):
    code, out, _ = lab(capsys, "check", str(course(tmp_path, "fr")))
    assert code == 0
    assert "Failed on 2 of 2 outputs. ana: The output does not contain “bonjour”, even ignoring case." in out
    assert "La sortie" not in out


# ------------------------------------------------------------------ the engine


def test_grading_takes_each_exercise_s_language_with_nothing_left_behind(tmp_path: Path):
    french = load(tmp_path, "bases/fr.j2", bonjour("fr"))
    english = load(tmp_path, "bases/en.j2", bonjour("en"))
    outputs = {"ana": ["Bonjour"], "bo": ["Bonjour Bo"]}
    for _ in range(2):  # alternating: a language never leaks into the next grade
        assert grade(french, outputs).criteria[0].reason == "Réussi sur les 2 sorties."
        assert grade(english, outputs).criteria[0].reason == "Passed on all 2 outputs."
    assert grade(french, outputs, lang="en").criteria[1].reason == "The output has 1 word (at most 3 allowed)."
    assert grade(french, outputs).criteria[2].reason == "La sortie a 2 mots (3 au maximum)."


def test_a_check_called_without_a_translator_speaks_english():
    from graders import CheckContext, get_check
    from graders.text import Count

    result = get_check("max-words").fn("un deux", Count(value=1), CheckContext())
    assert result.reason == "The output has 2 words; at most 1 are allowed."
    french = get_check("max-words").fn("un deux", Count(value=1), CheckContext(tr=translator("fr")))
    assert french.reason == "La sortie a 2 mots ; 1 au maximum sont permis."


# ------------------------------------------------------------------ the catalogues


def test_the_catalogues_are_complete_current_and_compiled():
    # every marked string is in en and fr, none is left over, each has a translation, the .mo match the .po
    assert catalogues.problems() == []


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_french_message_has_the_placeholders_of_its_english():
    french = catalogues.read("fr")
    checked = 0
    for message in french:
        if not message.id:
            continue
        if message.pluralizable:
            singular, plural = message.id
            *others, many = message.string
            assert _fields(many) == _fields(plural), message.id
            for form in others:  # French's singular may say "la sortie" for {n} == 1
                assert _fields(form) <= _fields(singular) | _fields(plural), message.id
        else:
            assert _fields(message.string) == _fields(message.id), message.id
        checked += 1
    assert checked > 100


def test_a_marked_string_missing_from_the_catalogue_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = tmp_path / "lab"
    source.mkdir()
    (source / "new.py").write_text('def f(t):\n    return t.gettext("A sentence nobody translated yet.")\n', encoding="utf-8")
    monkeypatch.setattr(catalogues, "ROOT", tmp_path)
    monkeypatch.setattr(catalogues, "SOURCES", ("lab",))
    monkeypatch.setattr(catalogues, "po_path", lambda lang: ROOT / "lab" / "settings" / "locale" / lang / "LC_MESSAGES" / "lab.po")
    monkeypatch.setattr(catalogues, "mo_path", lambda lang: ROOT / "lab" / "settings" / "locale" / lang / "LC_MESSAGES" / "lab.mo")
    found = catalogues.problems()
    assert "en: 'A sentence nobody translated yet.' is marked in the code but not in the catalogue: run `python tools/i18n.py update`." in found
    assert any(p.startswith("fr: 'A sentence nobody translated yet.' is marked in the code but not") for p in found)


def test_a_translation_call_the_extractor_cannot_read_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = tmp_path / "lab"
    source.mkdir()
    (source / "hidden.py").write_text('def f(t, n):\n    return f"[b]{t.gettext(\'Hint {n}:\').format(n=n)}[/b]"\n', encoding="utf-8")
    monkeypatch.setattr(catalogues, "ROOT", tmp_path)
    monkeypatch.setattr(catalogues, "SOURCES", ("lab",))
    assert catalogues.unextracted() == [
        "lab/hidden.py: 1 translation call(s) but 0 extracted; give gettext/ngettext literal text outside f-strings."]


def test_the_daily_cap_refuses_in_french_around_a_french_exercise(capsys, tmp_path: Path, monkeypatch):
    from lab.practice.spending import check_cap
    from lab.settings.i18n import translator

    message = check_cap(1.5, 0.25, 1.0).message(translator("fr"))
    assert message == ("Vous avez dépensé $1.50 aujourd'hui, au-delà de votre plafond quotidien de $1.00 (max_cost, LAB_MAX_COST) ; "
                       "cette tentative ajoute environ $0.2500")
    assert check_cap(1.5, 0.25, 1.0).message() .startswith("You have spent $1.50 today")
