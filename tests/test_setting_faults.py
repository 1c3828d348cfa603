"""Bad settings and a damaged home: each a message naming the setting and the fix, exit 2, nothing overwritten (issue 9)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lab.cli import main
from lab.settings import paths

RUN = ["run", "prompt-engineering/delimiters", "--prompt", "Summarise it.", "--model", "openai/echo", "--api-base", "http://127.0.0.1:9/v1"]


def lab(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("LAB_TIMEOUT", "abc", "Invalid setting LAB_TIMEOUT='abc': input should be a valid number, unable to parse string as a number "
                           "(timeout: seconds to wait for a model before giving up); set LAB_TIMEOUT to a valid value, or unset it."),
    ("LAB_CONCURRENCY", "0", "Invalid setting LAB_CONCURRENCY='0': input should be greater than or equal to 1 "
                             "(concurrency: model calls in flight at once for one attempt); set LAB_CONCURRENCY to a valid value, or unset it."),
    ("LAB_MAX_RETRIES", "lots", "Invalid setting LAB_MAX_RETRIES='lots': input should be a valid integer"),
])
def test_a_bad_variable_is_named_with_its_value_and_the_fix(capsys, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str):
    monkeypatch.setenv(variable, value)
    code, err = lab(capsys, *RUN)
    assert code == 2
    assert says in err and err.rstrip().endswith("Nothing was changed.")
    assert not paths.database_file().exists() or os.path.getsize(paths.database_file()) >= 0  # no attempt was begun


def test_a_bad_value_in_the_config_file_names_the_key_and_the_file(capsys):
    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text('max_retries = 99\nmodel = "openai/echo"\n', encoding="utf-8")
    before = paths.config_file().read_bytes()
    code, err = lab(capsys, *RUN)
    assert code == 2
    assert f"Invalid setting `max_retries` in {paths.config_file()}: input should be less than or equal to 10" in err
    assert "correct `max_retries` in that file, or remove the line. Nothing was changed." in err
    assert paths.config_file().read_bytes() == before


def test_a_corrupt_config_file_is_named_and_kept(capsys):
    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text('model = "openai/echo\n', encoding="utf-8")
    before = paths.config_file().read_bytes()
    code, err = lab(capsys, *RUN)
    assert code == 2
    assert f"{paths.config_file()}: not valid TOML (" in err and "fix or delete the file." in err
    assert paths.config_file().read_bytes() == before


@pytest.mark.parametrize("flag", ["0", "-1", "10000"])
def test_samples_out_of_range_is_refused_before_anything_is_recorded(capsys, flag: str):
    code, err = lab(capsys, *RUN, "--samples", flag)
    assert (code, err) == (2, "lab: --samples must be between 1 and 20.\n")
    assert not paths.database_file().exists()


def test_a_progress_database_of_random_bytes_is_named_and_never_overwritten(capsys):
    paths.database_file().parent.mkdir(parents=True, exist_ok=True)
    paths.database_file().write_bytes(os.urandom(8192))
    digest = hashlib.sha256(paths.database_file().read_bytes()).hexdigest()
    for argv in (RUN, ["progress"]):
        code, err = lab(capsys, *argv)
        assert code == 2
        assert f"{paths.database_file()}: the progress database cannot be opened (file is not a database); move it aside or set LAB_HOME to another folder." in err
    assert hashlib.sha256(paths.database_file().read_bytes()).hexdigest() == digest


def test_a_lab_home_that_cannot_hold_files_is_named(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # a file where the folder should be: what an unwritable home looks like even to root
    home = tmp_path / "home-is-a-file"
    home.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("LAB_HOME", str(home))
    code, err = lab(capsys, *RUN)
    assert code == 2
    assert str(home) in err and "set LAB_HOME to a folder you can write" in err
    assert home.read_text(encoding="utf-8") == "not a folder"


def test_an_unknown_key_in_the_config_file_is_named_with_a_guess(capsys):
    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text('modle = "openai/echo"\n', encoding="utf-8")
    code, err = lab(capsys, *RUN)
    assert f"lab: warning: {paths.config_file()}: unknown key 'modle' is ignored; did you mean 'model'? docs/config.md lists every key." in err


def test_lab_model_paired_with_the_files_api_base_is_pointed_out(capsys, monkeypatch: pytest.MonkeyPatch):
    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text('api_base = "http://127.0.0.1:9/v1"\n', encoding="utf-8")
    monkeypatch.setenv("LAB_MODEL", "anthropic/claude-3-5-haiku-latest")
    code, err = lab(capsys, "run", "prompt-engineering/delimiters", "--prompt", "x")
    assert ("lab: warning: LAB_MODEL=anthropic/claude-3-5-haiku-latest is from the environment but api_base http://127.0.0.1:9/v1 "
            f"is from {paths.config_file()}; set LAB_API_BASE too (or pass --api-base)") in err
