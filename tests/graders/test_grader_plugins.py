"""Custom checks from installed packages, through the entry-point group `lab.graders`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from fixtures.exercise_files import load, minimal

from graders import registry
from lab.practice.grading import grade

PLUGIN = '''
from graders import CheckResult, register
from graders.registry import Params


class Ending(Params):
    mark: str = "?"


@register("ends-with-mark", Ending)
def ends_with(output, p, ctx):
    """Passes when the output ends with `mark`."""
    if output.rstrip().endswith(p.mark):
        return CheckResult.ok(f"The output ends with {p.mark!r}.")
    return CheckResult.fail(f"The output does not end with {p.mark!r}.")
'''


def install(site: Path, dist: str, module: str, source: str, entry: str) -> None:
    """A package as pip would leave it: the module and a *.dist-info with an entry_points.txt."""
    (site / f"{module}.py").write_text(source, encoding="utf-8")
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[lab.graders]\n{entry} = {module}\n", encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site-packages"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.setattr(registry, "_registry", dict(registry.all_checks()))  # the plug-in's checks vanish after the test
    yield path
    for name in ("lab_plugin_demo", "lab_plugin_broken"):
        sys.modules.pop(name, None)


def test_an_installed_check_is_registered_and_grades(site: Path, tmp_path: Path):
    install(site, "lab_plugin_demo", "lab_plugin_demo", PLUGIN, "ends-with-mark")
    assert "ends-with-mark" not in registry._registry
    registry._load_entry_points()
    check = registry.get_check("ends-with-mark")
    assert check.summary == "Passes when the output ends with `mark`."
    exercise = load(tmp_path / "ex", "t/plugin.j2", minimal(rubric={"criteria": [{"id": "asks", "check": "ends-with-mark", "mark": "?"}]}))
    assert grade(exercise, {"only": ["Is it?"]}).passed
    assert not grade(exercise, {"only": ["It is."]}).passed


def test_a_broken_plugin_is_reported_and_the_rest_still_load(site: Path, caplog: pytest.LogCaptureFixture):
    install(site, "lab_plugin_broken", "lab_plugin_broken", "raise RuntimeError('boom')\n", "broken")
    with caplog.at_level(logging.WARNING, logger="graders.registry"):
        registry._load_entry_points()
    assert "could not load check plug-in broken (lab_plugin_broken): boom" in caplog.text
    assert registry.get_check("judge").name == "judge"
