"""docs/authoring.md's complete example is a working exercise: it validates and its examples behave."""

from pathlib import Path

from lab.format.loader import load_catalog
from lab.practice.checking import check_examples

ROOT = Path(__file__).resolve().parent.parent


def test_the_authoring_guide_example_loads_and_its_examples_behave(tmp_path: Path):
    text = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
    example = text.split("## A complete example", 1)[1].split("```jinja\n", 1)[1].split("\n```", 1)[0]
    target = tmp_path / "reviews" / "one-line-verdict.j2"
    target.parent.mkdir()
    target.write_text(example + "\n", encoding="utf-8")

    catalog = load_catalog([tmp_path])
    assert [str(p) for p in catalog.problems if tmp_path in p.path.parents] == []
    exercise = catalog.get("reviews/one-line-verdict")
    verdicts = check_examples(exercise)
    assert {v.expect for v in verdicts} == {"pass", "fail"}
    assert [v.verdict for v in verdicts] == [v.expect for v in verdicts]


def test_the_authoring_guides_lab_check_sample_is_what_lab_check_prints(capsys):
    # issue 14: the guide said "39 exercise(s), 112 example(s)" long after the curriculum had grown
    from lab.cli import main

    text = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
    sample = text.split("$ lab check exercises/\n", 1)[1].split("\n```", 1)[0].splitlines()
    main(["check", str(ROOT / "exercises")])
    printed = capsys.readouterr().out.splitlines()
    assert sample[-1] == printed[-1]
    assert [line for line in sample if line != "…" and line not in printed] == []
