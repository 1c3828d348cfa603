"""The catalog's columns at 80 columns: skills shown whole (issue 14: they were cut to six letters)."""

from __future__ import annotations

from lab.format.catalog import load_index
from lab.settings import paths
from lab.tui.screens.catalog import columns, fit_skills
from lab.tui.summary import CatalogRow


def test_skills_are_whole_words_with_a_count_of_the_rest():
    assert fit_skills(("clarity", "specificity"), 12) == "clarity +1"
    assert fit_skills(("clarity", "specificity"), 40) == "clarity, specificity"
    assert fit_skills(("a", "b", "c"), 6) == "a +2"
    assert fit_skills((), 12) == ""


def test_at_80_columns_every_bundled_exercise_shows_a_whole_first_skill(lab_home, monkeypatch):
    monkeypatch.delenv("LAB_EXERCISES", raising=False)
    entries = load_index([]).exercises
    assert entries and paths.bundled_exercises_dir().is_dir()
    rows = [CatalogRow(e.id, e.title, e.track, e.level, tuple(e.skills), "new", None) for e in entries]
    widths = columns(rows, 80 - 5)
    assert widths[4] >= 12
    short = [r.id for r in rows if len(r.skills[0]) <= widths[4] and not fit_skills(r.skills, widths[4]).startswith(r.skills[0])]
    assert short == []
