"""Grade reasons are written for learners: no regex and no list of accepted wordings in them
(that is the rubric, and means nothing to most). `lab check` shows the rule to authors."""

from __future__ import annotations

from lab.format.loader import load_paths
from lab.practice.checking import check_examples
from lab.settings import paths

LIST_CHECKS = ("contains-any", "icontains-any", "contains-all", "icontains-all")


def test_no_bundled_reason_quotes_a_pattern_or_a_list_of_wordings():
    catalog = load_paths([paths.bundled_exercises_dir()])
    seen = 0
    for exercise in catalog.exercises:
        criteria = {c.id: c for c in exercise.rubric.criteria}
        for verdict in check_examples(exercise):
            for graded in verdict.grade.criteria:
                criterion = criteria[graded.id]
                params = criterion.params if isinstance(criterion.params, dict) else {}
                if criterion.check == "regex":
                    pattern = str(params.get("pattern", ""))
                    seen += 1
                    assert pattern not in graded.reason, (exercise.id, graded.id, graded.reason)
                    assert "/" + pattern[:12] not in graded.reason
                elif criterion.check in LIST_CHECKS and len(params.get("values") or []) > 2:
                    seen += 1
                    values = [str(v) for v in params["values"]]
                    assert sum(f"“{v}”" in graded.reason for v in values) <= 1, (exercise.id, graded.id, graded.reason)
    assert seen > 100  # the curriculum is full of them: the test looked at real reasons


def test_lab_check_shows_the_rule_the_learner_does_not_see(capsys):
    from lab.cli import main

    main(["check", str(paths.bundled_exercises_dir() / "human-in-the-loop" / "review-generated-code.j2")])
    out = capsys.readouterr().out
    assert "    gives-the-fix (0.00 ×3): The output does not have what this criterion looks for. [/\\(\\s*n" in out
