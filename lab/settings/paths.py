"""Where Prompt Lab keeps its files.

`LAB_HOME`, when set, holds everything (database, config, the learner's exercise folder) so a
course, a test or a portable setup can live in one folder; otherwise the platform's usual
user folders are used.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

APP_NAME = "prompt-lab"


def _home() -> Path | None:
    value = os.environ.get("LAB_HOME", "").strip()
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    home = _home()
    if home is not None:
        return home
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    home = _home()
    if home is not None:
        return home
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Files Prompt Lab can rebuild at any time (compiled templates)."""
    home = _home()
    if home is not None:
        return home / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    return config_dir() / "config.toml"


def catalog_cache_file() -> Path:
    """The catalog the TUI drew last (lab.tui.summary): its next first frame."""
    return data_dir() / "tui-catalog.json"


def database_file() -> Path:
    return data_dir() / "lab.db"


def models_dir() -> Path:
    """The built-in model's weights (`lab local fetch` puts them here)."""
    return data_dir() / "models"


def user_exercises_dir() -> Path:
    """The learner's or trainer's own exercise folder, searched after `--exercises` and `LAB_EXERCISES`."""
    return data_dir() / "exercises"


def bundled_exercises_dir() -> Path:
    """The curriculum shipped with Prompt Lab: inside the wheel, or the source tree's `exercises/`."""
    package = Path(__file__).resolve().parent.parent  # lab/, where the wheel puts _bundled_exercises
    installed = package / "_bundled_exercises"
    if installed.is_dir():
        return installed
    return package.parent / "exercises"


def _umask() -> int:
    """The process's umask, read without setting it (os.umask sets it, for every thread at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def replaced_atomically(target: Path, encoding: str = "utf-8") -> Iterator[TextIO]:
    """`with replaced_atomically(path) as out:` writes a new `path` through a temporary file of its own
    beside it, put in place only when the block ends without error: a reader never sees a half-written
    file, and two writers at once (a `lab review` and a `lab grade` redrawing one report) each write their
    own, the last one in wins whole. OSError from the folder or the disk is the caller's to word."""
    target = Path(target)
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    if os.name != "nt":  # mkstemp makes it readable by its owner only; a report or a certificate is for others to read
        os.fchmod(descriptor, 0o666 & ~_umask())
    try:
        with os.fdopen(descriptor, "w", encoding=encoding) as out:
            yield out
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
