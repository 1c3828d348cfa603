"""The house keeps its plan: lab/ in rooms, each using only the rooms below it (DEVELOPERS.md, "Layout")."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("cli", "tui", "classroom", "practice", "models", "format", "settings")


def test_import_contracts_hold():
    """import-linter's contracts in pyproject.toml: the layers of the rooms, a headless engine, no
    circle inside a room. Run as a trainer's CI would, in a process of its own."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout


def test_every_room_is_in_the_layers_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")["layers"]
    named = {name.strip() for layer in layers for name in layer.split("|")}
    rooms = {p.name for p in (ROOT / "lab").iterdir() if (p / "__init__.py").exists()}
    assert rooms == set(ROOMS), "a new room needs its place in the layers contract and in DEVELOPERS.md"
    assert {f"lab.{room}" for room in ROOMS} <= named


def test_few_modules_stay_at_the_top_of_lab():
    top = sorted(p.name for p in (ROOT / "lab").glob("*.py"))
    assert len(top) <= 6, top


def test_developers_md_names_every_module_of_every_room():
    """The layout section is the map a newcomer reads: it must not fall behind the tree."""
    text = (ROOT / "DEVELOPERS.md").read_text(encoding="utf-8")
    layout = text[text.index("## Layout"):text.index("## Rules of the house")]
    for room in ("settings", "format", "models", "practice", "classroom"):
        for module in (ROOT / "lab" / room).glob("*.py"):
            if module.name != "__init__.py":
                assert f"`{module.name}`" in layout, f"DEVELOPERS.md's layout does not name lab/{room}/{module.name}"
