"""An empty answer from the model (`""`) is graded as it is, and named wherever the learner reads it:
`lab run` (text and --json), `lab attempt`, and the TUI (tests/tui/test_empty_answer.py)."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.exercise_files import minimal, write_exercise

from lab.cli import main

SILENT = "Say nothing at all."  # the fake provider's `scripted` model answers "" to it (set while recording)
EXERCISE = minimal(id="t/speak", title="Say something", cases=[{"name": "only"}],
                   rubric={"criteria": [{"id": "short", "check": "max-words", "value": 5}]})


def run(capsys, root: Path, api_base: str, *extra: str) -> tuple[int, str, str]:
    code = main(["run", "t/speak", "--exercises", str(root), "--model", "openai/scripted", "--api-base", api_base,
                 "--prompt", SILENT, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_empty_answer_is_named_in_lab_run_its_json_and_lab_attempt(capsys, tmp_path: Path, cassette, api_base, provider):
    if provider is not None:
        provider.rules = [(SILENT, "")]
    root = tmp_path / "course"
    write_exercise(root, "t/speak.j2", EXERCISE)
    code, out, _ = run(capsys, root, api_base)
    assert code == 0  # "at most five words" passes on nothing: graded as it is, and said
    assert ("The model's answer was empty for case 'only': it wrote nothing, and the criteria graded that. "
            "Send again; if it stays empty, try another model.") in out

    code, out, _ = run(capsys, root, api_base, "--json")
    [case] = json.loads(out)["cases"]
    assert (case["outputs"], case["empty"]) == ([""], [True])

    assert main(["attempt", "last"]) == 0
    out = capsys.readouterr().out
    assert "## Output: only (empty: the model wrote nothing)" in out


def test_each_notice_names_the_cases_and_only_the_samples_it_is_about():
    from lab.practice.attempts import ROUNDS_SPENT, cut_off_notice, empty_notice, rounds_notice

    result = {"cases": [
        {"name": "a", "outputs": ["fine", "", "cut"], "finish_reasons": ["stop", "stop", "length"]},
        {"name": "b", "outputs": ["x"], "finish_reasons": ["length"]},
        {"name": "c", "outputs": [""], "finish_reasons": [ROUNDS_SPENT]},  # named by the rounds, not as empty
    ]}
    assert cut_off_notice(result, 300) == ("The answer was cut off for cases 'a' (sample 3), 'b': the model stopped at "
                                           "max_tokens: 300, set by the exercise. A criterion it fails may only lack room; "
                                           "ask for a shorter answer.")
    assert empty_notice(result).startswith("The model's answer was empty for case 'a' (sample 2): it wrote nothing")
    assert rounds_notice(result, 4).startswith("The answer was cut off for case 'c': the model was still calling tools after 4 rounds")
    assert empty_notice({"cases": [{"name": "a", "outputs": ["ok"], "finish_reasons": ["stop"]}]}) is None
