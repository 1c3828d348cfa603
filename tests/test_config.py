"""Settings (explicit > LAB_* > config file) and front-matter parsing details."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from fixtures.exercise_files import load, minimal

from lab.errors import ExerciseError, LabError
from lab.format import yamlines
from lab.settings import paths
from lab.settings.config import load_settings, save_settings


def test_model_comes_from_the_flag_then_lab_model_then_the_config_file(lab_home: Path, monkeypatch: pytest.MonkeyPatch):
    assert load_settings().model is None
    save_settings(model="ollama_chat/llama3.2", timeout=30)
    assert paths.config_file() == lab_home / "config.toml"
    assert (load_settings().model, load_settings().timeout) == ("ollama_chat/llama3.2", 30)
    monkeypatch.setenv("LAB_MODEL", "openai/gpt-4o-mini")
    assert load_settings().model == "openai/gpt-4o-mini"
    assert load_settings(model="anthropic/claude-3-5-haiku-latest", api_base=None).model == "anthropic/claude-3-5-haiku-latest"


def test_api_base_from_lab_api_base(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAB_API_BASE", "http://127.0.0.1:11434/v1")
    assert load_settings().api_base == "http://127.0.0.1:11434/v1"
    assert load_settings(api_base="http://127.0.0.1:1234/v1").api_base == "http://127.0.0.1:1234/v1"


def test_save_settings_keeps_other_keys_and_removes_with_none():
    save_settings(model="a/b", api_base="http://127.0.0.1:11434/v1")
    save_settings(api_base=None, theme="nord")
    assert tomllib.loads(paths.config_file().read_text(encoding="utf-8")) == {"model": "a/b", "theme": "nord"}


def test_save_settings_refuses_unknown_keys_such_as_api_keys():
    with pytest.raises(LabError) as caught:
        save_settings(api_key="sk-nope")
    assert str(caught.value) == "Unknown setting 'api_key'."
    assert not paths.config_file().exists()


def test_broken_config_file_is_a_clear_error():
    paths.config_file().write_text("model = \n", encoding="utf-8")
    with pytest.raises(LabError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{paths.config_file()}: not valid TOML (")
    assert str(caught.value).endswith("); fix or delete the file.")


def test_invalid_setting_names_the_key(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAB_TIMEOUT", "-3")
    with pytest.raises(LabError) as caught:
        load_settings()
    assert str(caught.value) == ("Invalid setting LAB_TIMEOUT='-3': input should be greater than 0 (timeout: seconds to wait for a model "
                                 "before giving up); set LAB_TIMEOUT to a valid value, or unset it. Nothing was changed.")


# ------------------------------------------------------------------ front matter


def test_yes_and_no_stay_text():
    data, lines = yamlines.load("values: [yes, no, on, off]\nflag: true\nnested:\n  key: 1\n", first_line=2)
    assert data == {"values": ["yes", "no", "on", "off"], "flag": True, "nested": {"key": 1}}
    assert (lines[("values",)], lines[("nested",)], lines[("nested", "key")]) == (2, 4, 5)


def test_an_exercise_cannot_choose_the_model_or_keys(tmp_path: Path):
    with pytest.raises(ExerciseError) as caught:
        load(tmp_path, "a.j2", minimal(model={"temperature": 0, "api_key": "sk-x"}))
    [problem] = caught.value.problems
    assert problem.line == 12  # the `model:` key
    assert problem.message == "'model': 'api_key' cannot be set by an exercise; the learner chooses the model and keys"


def test_call_settings_pass_through_to_the_call(tmp_path: Path):
    exercise = load(tmp_path, "a.j2", minimal(model={"temperature": 0.2, "max_tokens": 50, "top_p": 0.9}))
    assert exercise.meta.model.as_kwargs() == {"temperature": 0.2, "max_tokens": 50, "top_p": 0.9}


def test_front_matter_is_immutable(tmp_path: Path):
    exercise = load(tmp_path, "a.j2", minimal())
    with pytest.raises(Exception):
        exercise.meta.title = "changed"  # type: ignore[misc]


def test_a_hosted_judge_is_not_sent_to_the_learners_local_server(monkeypatch: pytest.MonkeyPatch):
    local = "http://127.0.0.1:11434/v1"
    same = load_settings(model="openai/llama3.2", api_base=local).judge_call_config()
    assert (same.model, same.api_base) == ("openai/llama3.2", local)
    hosted = load_settings(model="openai/llama3.2", api_base=local, judge_model="anthropic/claude-3-5-haiku-latest").judge_call_config()
    assert (hosted.model, hosted.api_base) == ("anthropic/claude-3-5-haiku-latest", None)
    monkeypatch.setenv("LAB_JUDGE_API_BASE", "http://127.0.0.1:8000/v1")
    own = load_settings(model="anthropic/claude-3-5-haiku-latest", judge_model="openai/echo").judge_call_config()
    assert own.api_base == "http://127.0.0.1:8000/v1"
    forced = load_settings(model="openai/llama3.2", api_base=local, judge_api_base="none").judge_call_config()
    assert forced.api_base is None


def test_the_judges_missing_key_is_named_not_blamed_on_the_local_server(monkeypatch: pytest.MonkeyPatch):
    from lab.errors import ModelError
    from lab.models import llm

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    judge = load_settings(model="openai/llama3.2", api_base="http://127.0.0.1:9/v1",
                          judge_model="anthropic/claude-3-5-haiku-latest").judge_call_config()
    with pytest.raises(ModelError) as caught:
        llm.complete([{"role": "user", "content": "grade"}], judge)
    assert str(caught.value) == ("No API key for anthropic/claude-3-5-haiku-latest: set ANTHROPIC_API_KEY in your environment "
                                 "(keys are never stored).")


def test_docs_config_lists_exactly_the_settings():
    import re

    from lab.settings.config import Settings

    page = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([a-z_]+)` \| `LAB_", page, re.MULTILINE)
    assert listed == list(Settings.model_fields)
