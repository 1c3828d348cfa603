"""A small cohort graded through litellm-free HTTP to the fake provider (cassette in replay): a
pass/fail judge, a 1-5 judge and a plain check over two cases, for three learners.

Hand-computed (weights meets 1, rated 2, hello 1; pass mark 0.75; judge-strict gives PASS / 5 only to
outputs holding MEETS-RUBRIC, else FAIL / 2):
  ana  "hello {{ who }} MEETS-RUBRIC"  meets 1, rated 1,    hello 1  -> 1.0    passed
  bob  "hello {{ who }}"               meets 0, rated 0.25, hello 1  -> 0.375  not passed
  cleo "Hi {{ who }}"                  meets 0, rated 0.25, hello 0  -> 0.125  not passed
"""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.exercise_files import minimal, write_exercise
from lab.cli import main

REVIEWED = minimal(
    id="t/reviewed", title="Reviewed", track="basics", level=2, skills=["judgement"],
    cases=[{"name": "a", "vars": {"who": "Ana"}}, {"name": "b", "vars": {"who": "Bob"}}],
    rubric={"pass": 0.75, "criteria": [
        {"id": "meets", "check": "judge", "rubric": "The text meets the rubric.", "scale": "pass-fail", "feedback": "Make it meet the rubric."},
        {"id": "rated", "check": "judge", "rubric": "Rate how well the text meets the rubric.", "scale": "1-5", "weight": 2},
        {"id": "hello", "check": "icontains", "value": "hello"},
    ]},
)
PROMPTS = {"ana": "hello {{ who }} MEETS-RUBRIC", "bob": "hello {{ who }}", "cleo": "Hi {{ who }}"}


def grade_argv(tmp_path: Path, api_base: str) -> list[str]:
    root = tmp_path / "course"
    if not root.exists():
        write_exercise(root, "basics/reviewed.j2", REVIEWED)
    hand_in = tmp_path / "in.jsonl"
    hand_in.write_text("".join(json.dumps({"format": "prompt-lab-submission/1", "learner": who, "exercise": "t/reviewed", "prompt": p}) + "\n"
                               for who, p in PROMPTS.items()), encoding="utf-8")
    return ["grade", str(hand_in), "--out", str(tmp_path / "cohort"), "--exercises", str(root), "--model", "openai/echo",
            "--judge-model", "openai/judge-strict", "--api-base", api_base, "--json"]


def graded_cohort(tmp_path: Path, api_base: str, capsys) -> Path:
    code = main(grade_argv(tmp_path, api_base))
    out, err = capsys.readouterr()
    assert code == 0, err
    return tmp_path / "cohort"
