"""docs/graders.md stays in step with the registry: every built-in check, every parameter, valid examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from graders import all_checks

DOC = (Path(__file__).resolve().parents[2] / "docs" / "graders.md").read_text(encoding="utf-8")
CRITERION_KEYS = {"id", "check", "weight", "cases", "feedback", "not"}


def builtin_checks() -> dict:
    return {name: c for name, c in all_checks().items() if c.fn.__module__.startswith("graders.")}


def sections() -> dict[str, str]:
    parts = re.split(r"^### `([\w-]+)`\s*$", DOC, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].split("\n## ")[0] for i in range(1, len(parts), 2)}


def parameter_names(model: type) -> set[str]:
    return {name.rstrip("_") for name in model.model_fields}


def test_every_builtin_check_is_documented_and_nothing_else():
    assert set(sections()) == set(builtin_checks())


def test_the_summary_table_lists_every_check_with_its_parameters():
    rows = re.findall(r"^\| \[([\w-]+)\]\(#[\w-]+\) \| (\w+) \| (\w+) \| ([^|]*) \|$", DOC, flags=re.MULTILINE)
    table = {name: (scope, model, {p.strip() for p in params.split(",") if p.strip()}) for name, scope, model, params in rows}
    expected = {name: (c.scope, c.uses_model, parameter_names(c.params)) for name, c in builtin_checks().items()}
    assert table == expected


@pytest.mark.parametrize("name", sorted(builtin_checks()))
def test_documented_parameters_match_the_params_model(name):
    text = sections()[name]
    listed = text.split("**Parameters**", 1)[1].split("**Example**", 1)[0]
    documented = set(re.findall(r"^- `([\w-]+)`", listed, flags=re.MULTILINE))
    assert documented == parameter_names(builtin_checks()[name].params)


@pytest.mark.parametrize("name", sorted(builtin_checks()))
def test_the_example_is_a_valid_criterion(name):
    example = re.search(r"\*\*Example\*\*\n```yaml\n(.*?)```", sections()[name], flags=re.DOTALL)
    assert example, f"{name} has no YAML example"
    (criterion,) = yaml.safe_load(example.group(1))
    assert criterion["check"] == name
    params = {k: v for k, v in criterion.items() if k not in CRITERION_KEYS}
    params = {k: ("x" if isinstance(v, str) and "{{" in v else v) for k, v in params.items()}  # templates render per case
    builtin_checks()[name].params.model_validate(params)
