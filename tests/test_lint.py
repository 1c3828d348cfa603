"""The code lints clean: pyflakes finds no unused import, undefined name or dead assignment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_pyflakes_finds_nothing_in_the_app_graders_and_benchmarks():
    done = subprocess.run([sys.executable, "-m", "pyflakes", "lab", "graders", "bench"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
