"""Import hygiene: litellm costs seconds to import, so only a command that calls a model may import it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_in_fresh_python(code: str, lab_home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "LAB_HOME": str(lab_home), "NO_COLOR": "1", **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=environment, cwd=ROOT, timeout=120)


def test_commands_without_a_model_never_import_litellm(lab_home: Path):
    done = run_in_fresh_python("""
        import contextlib, io, sys
        from lab.cli import main
        commands = [["list"], ["list", "--json"], ["show", "prompt-engineering/delimiters"], ["validate"],
                    ["progress"], ["progress", "--json"], ["check"], ["check", "--json"]]
        for argv in commands:
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(argv)
            assert code == 0, (argv, code)
            assert "litellm" not in sys.modules, f"`lab {' '.join(argv)}` imported litellm"
            assert "openai" not in sys.modules, f"`lab {' '.join(argv)}` imported openai"
        print("clean")
    """, lab_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"


def test_lab_run_imports_litellm_when_it_calls_the_model(lab_home: Path):
    # The key check fails before the network, but only after `lab run` has gone as far as the model call.
    done = run_in_fresh_python("""
        import sys
        from lab.cli import main
        assert "litellm" not in sys.modules
        code = main(["run", "prompt-engineering/delimiters", "--prompt", "Summarise {{ email }}",
                     "--model", "openai/echo", "--api-base", "http://127.0.0.1:9/v1", "--timeout", "5"])
        assert code == 2, code
        assert "litellm" in sys.modules
        print("imported")
    """, lab_home, LAB_MAX_RETRIES="0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "imported"
    assert "Could not reach http://127.0.0.1:9/v1" in done.stderr


def test_lab_grade_against_an_openai_compatible_server_never_imports_litellm(lab_home: Path, tmp_path: Path):
    # litellm costs seconds and ~11 ms of CPU a call: a class graded on a local server or a LiteLLM proxy goes without it
    (tmp_path / "a.csv").write_text("learner,exercise,prompt\nana,prompt-engineering/delimiters,Summarise {{ email }}\n", encoding="utf-8")
    done = run_in_fresh_python(f"""
        import contextlib, io, sys
        from lab.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["export", "--learner", "ana"])
            code = main(["grade", {str(tmp_path / "a.csv")!r}, "--out", {str(tmp_path / "c")!r}, "--model", "openai/echo",
                         "--api-base", "http://127.0.0.1:9/v1", "--timeout", "5"])
        assert code == 1, code  # nothing listens there: a model error, named
        assert "litellm" not in sys.modules and "openai" not in sys.modules
        print("clean")
    """, lab_home, LAB_MAX_RETRIES="0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"
    assert "ana · prompt-engineering/delimiters: Could not reach http://127.0.0.1:9/v1: is the server running and the address right?" in done.stderr


@pytest.mark.parametrize("module", ["lab", "lab.cli", "lab.format.loader", "lab.practice.grading", "lab.practice.store", "lab.practice.attempts", "lab.format.messages", "lab.classroom.submissions", "lab.classroom.cohort", "lab.classroom.grading", "lab.classroom.report", "lab.practice.mastery", "lab.classroom.certificates"])
def test_engine_modules_import_without_litellm_or_textual(module: str, lab_home: Path):
    done = run_in_fresh_python(f"""
        import sys, importlib
        importlib.import_module({module!r})
        heavy = sorted(m for m in ("litellm", "openai", "textual", "vcr") if m in sys.modules)
        print(",".join(heavy))
    """, lab_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_lab_run_says_apart_that_the_model_library_was_loading(lab_home: Path, live_provider):
    done = run_in_fresh_python(f"""
        from lab.models import llm
        from lab.cli import main
        code = main(["run", "prompt-engineering/delimiters", "--prompt", "Summarise {{{{ email }}}}",
                     "--model", "openai/echo", "--api-base", "{live_provider.url}"])
        assert code in (0, 1), code
        print("loaded", llm.load_seconds())
    """, lab_home)
    assert done.returncode == 0, done.stderr
    assert "(the model library took " in done.stdout and "s to load first; that is not in the time above)" in done.stdout


def test_the_checks_stand_alone_without_the_engine(lab_home: Path):
    # a trainer's plug-in package imports `graders` only: no check may pull in `lab`
    done = run_in_fresh_python("""
        import sys
        from graders import all_checks
        names = sorted(all_checks())
        engine = sorted(m for m in sys.modules if m == "lab" or m.startswith("lab."))
        assert not engine, engine
        print(len(names))
    """, lab_home)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 20


def test_the_errors_module_stays_light_for_the_tuis_start_up_worker(lab_home: Path):
    # the TUI's first worker imports lab.errors while the first frame is drawn; lab.errors takes the
    # judge errors from graders.errors, and importing that must not load the registry (pydantic)
    done = run_in_fresh_python("""
        import sys
        import lab.errors
        from graders import JudgeError
        assert lab.errors.JudgeError is JudgeError
        print(",".join(sorted(m for m in ("pydantic", "jinja2", "graders.registry") if m in sys.modules)))
        from graders import CheckResult, register
        assert "graders.registry" in sys.modules and callable(register) and CheckResult.ok("x").passed
    """, lab_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_listing_plain_front_matter_never_imports_yaml(lab_home: Path):
    # the first-start index builder races Textual's import for the first frame: PyYAML's import is a
    # tenth of its time, and the bundled front matter is all plain enough to read without it
    done = run_in_fresh_python("""
        import sys
        from lab.format.catalog import load_index
        catalog = load_index()
        assert len(catalog.exercises) >= 40, len(catalog.exercises)
        print(",".join(sorted(m for m in ("yaml", "pydantic", "jinja2") if m in sys.modules)))
    """, lab_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_exercises_without_a_pattern_never_import_regex(lab_home: Path, tmp_path: Path):
    # the checks load with every exercise; `regex` (6 ms) waits for the first pattern to compile
    from fixtures.exercise_files import minimal, write_exercise

    hello = {"id": "hello", "check": "icontains", "value": "hello"}
    write_exercise(tmp_path, "t/plain.j2", minimal(id="t/plain", rubric={"criteria": [hello]}))
    digits = {"id": "digits", "check": "regex", "pattern": "[0-9]+", "flags": "i"}
    write_exercise(tmp_path, "t/pattern.j2", minimal(id="t/pattern", rubric={"criteria": [hello, digits]}))
    done = run_in_fresh_python(f"""
        import sys
        from lab.format.loader import load_exercise
        root = {str(tmp_path)!r}
        plain = load_exercise({str(tmp_path / "t" / "plain.j2")!r}, root)
        print("regex" in sys.modules)
        from lab.practice.grading import grade
        case = plain.cases[0].name
        print(grade(plain, {{case: ["hello"]}}, None).passed, "regex" in sys.modules)
        pattern = load_exercise({str(tmp_path / "t" / "pattern.j2")!r}, root)
        print(grade(pattern, {{case: ["HELLO 42"]}}, None).passed, "regex" in sys.modules)
    """, lab_home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["False", "True False", "True True"]
