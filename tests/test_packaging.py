"""The wheel: the bundled curriculum travels inside it, the `lab` script is declared, and an unpacked
wheel (what a non-editable install puts in site-packages) finds its exercises without the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(ROOT), "-w", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [built] = out.glob("prompt_lab-*.whl")
    return built


def test_wheel_holds_every_bundled_exercise_and_partial(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"lab/_bundled_exercises/{p.relative_to(ROOT / 'exercises').as_posix()}" for p in (ROOT / "exercises").rglob("*.j2")}
    assert expected and expected <= names
    assert any(Path(n).name.startswith("_") for n in expected), "partials (_*.j2) must ship too"
    assert {"lab/cli/__init__.py", "lab/models/llm.py", "graders/registry.py", "graders/text.py"} <= names
    assert not any(n.startswith(("tests/", "cassettes/")) for n in names)


def test_wheel_declares_the_lab_script(wheel: Path):
    archive = zipfile.ZipFile(wheel)
    [entry_points] = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = archive.read(entry_points).decode()
    assert "[console_scripts]" in text and "lab = lab.cli:run" in text
    [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    assert "Requires-Python: >=3.11" in archive.read(metadata).decode()


def test_unpacked_wheel_finds_its_bundled_exercises(wheel: Path, tmp_path: Path, lab_home: Path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = """
import json, sys
import lab
from lab.settings import paths
from lab.cli import main
print(json.dumps({"package": lab.__file__, "bundled": str(paths.bundled_exercises_dir())}))
sys.exit(main(["list", "--json"]))
"""
    env = {**os.environ, "PYTHONPATH": str(site), "LAB_HOME": str(lab_home)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    first, _, listing = done.stdout.partition("\n")
    where = json.loads(first)
    assert where["package"].startswith(str(site)) and where["bundled"] == str(site / "lab" / "_bundled_exercises")
    ids = {row["id"] for row in json.loads(listing)}
    assert {"prompt-engineering/delimiters", "prompt-engineering/three-bullets", "prompt-engineering/triage-system"} <= ids


def test_the_wheel_ships_the_no_model_server(wheel: Path, tmp_path: Path):
    # README's "no model at all" recipe runs `python -m lab.testserver` from an installed package
    import urllib.request

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    server = subprocess.Popen([sys.executable, "-m", "lab.testserver", "--port", "0", "--idle-timeout", "20"],
                              stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        banner = server.stdout.readline()
        assert banner.startswith("fake provider on http://127.0.0.1:"), banner
        url = banner.split()[3]
        with urllib.request.urlopen(f"{url}/models", timeout=10) as answer:
            models = {m["id"] for m in json.load(answer)["data"]}
        assert "echo" in models
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_wheel_carries_the_compiled_catalogues_and_speaks_french_from_them(wheel: Path, tmp_path: Path, lab_home: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"lab/settings/locale/en/LC_MESSAGES/lab.mo", "lab/settings/locale/fr/LC_MESSAGES/lab.mo"} <= names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "from lab.settings.i18n import translator; print(translator('fr-CA').gettext('PASSED'), translator('de').gettext('PASSED'))"
    env = {**os.environ, "PYTHONPATH": str(site), "LAB_HOME": str(lab_home)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "RÉUSSI PASSED\n"
