"""Defect 11: an unknown config.toml key (`modle = ...`) is reported with a did-you-mean at start-up of
commands that read settings and in the lab; LAB_MODEL paired with the file's api_base is warned about."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cli import main
from lab.settings import paths
from lab.settings.config import settings_warnings
from lab.tui.session import LabSession


def write_config(text: str) -> Path:
    path = paths.config_file()
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    # a hosted model with no key fails before any network: what is tested is what is printed first
    code = main(["run", "delimiters", "--prompt", "Summarise {{ email }}", *extra])
    return code, capsys.readouterr().err


def test_an_unknown_key_is_reported_with_a_did_you_mean(capsys):
    path = write_config('modle = "openai/gpt-4o-mini"\nconcurency = 2\nzzz = 1\n[keymap]\n"exercise.hint" = "ctrl+h"\n')
    code, err = run(capsys, "--model", "openai/gpt-4o-mini")
    assert code == 2
    lines = err.splitlines()
    assert lines[:3] == [
        f"lab: warning: {path}: unknown key 'modle' is ignored; did you mean 'model'? docs/config.md lists every key.",
        f"lab: warning: {path}: unknown key 'concurency' is ignored; did you mean 'concurrency'? docs/config.md lists every key.",
        f"lab: warning: {path}: unknown key 'zzz' is ignored; docs/config.md lists every key.",
    ]
    assert lines[3].startswith("lab: No API key for openai/gpt-4o-mini")  # keymap is known: not reported


def test_a_clean_file_gives_no_warning(capsys):
    write_config('model = "openai/gpt-4o-mini"\ntimeout = 30\n')
    code, err = run(capsys)
    assert code == 2 and "warning" not in err


def test_lab_model_with_the_files_api_base_is_a_warning(capsys, monkeypatch: pytest.MonkeyPatch):
    path = write_config('model = "openai/llama3.2"\napi_base = "http://127.0.0.1:11434/v1"\n')
    monkeypatch.setenv("LAB_MODEL", "anthropic/claude-3-5-haiku-latest")
    code, err = run(capsys)
    assert err.splitlines()[0] == (
        f"lab: warning: LAB_MODEL=anthropic/claude-3-5-haiku-latest is from the environment but api_base "
        f"http://127.0.0.1:11434/v1 is from {path}; set LAB_API_BASE too (or pass --api-base) to say which server "
        "anthropic/claude-3-5-haiku-latest is on.")


@pytest.mark.parametrize("setup", ["LAB_API_BASE", "--api-base", "--model", "same model", "no api_base"])
def test_no_pairing_warning_when_the_pair_is_said_in_one_place(monkeypatch: pytest.MonkeyPatch, setup: str):
    write_config('model = "openai/llama3.2"\n' + ("" if setup == "no api_base" else 'api_base = "http://127.0.0.1:11434/v1"\n'))
    monkeypatch.setenv("LAB_MODEL", "openai/llama3.2" if setup == "same model" else "openai/gpt-4o-mini")
    overrides = {}
    if setup == "LAB_API_BASE":
        monkeypatch.setenv("LAB_API_BASE", "http://127.0.0.1:11434/v1")
    elif setup == "--api-base":
        overrides["api_base"] = "http://127.0.0.1:8000/v1"
    elif setup == "--model":
        overrides["model"] = "openai/other"
    assert settings_warnings(**overrides) == []


def test_the_lab_reports_them_at_start_up(monkeypatch: pytest.MonkeyPatch):
    write_config('modle = "openai/gpt-4o-mini"\napi_base = "http://127.0.0.1:11434/v1"\n')
    monkeypatch.setenv("LAB_MODEL", "openai/gpt-4o-mini")
    session = LabSession.open()
    try:
        assert session.settings_error is not None
        assert "unknown key 'modle' is ignored; did you mean 'model'?" in session.settings_error
        assert "LAB_MODEL=openai/gpt-4o-mini is from the environment" in session.settings_error
        session.choose_model("openai/llama3.2", "http://127.0.0.1:11434/v1")  # a model chosen in the lab has its own base
        assert "LAB_MODEL" not in (session.settings_error or "") and "modle" in (session.settings_error or "")
    finally:
        session.store.close()
