"""Where Prompt Lab keeps its files.

`LAB_HOME`, when set, holds everything (database, config, the learner's exercise folder) so a
course, a test or a portable setup can live in one folder; otherwise the platform's usual
user folders are used.
"""

from __future__ import annotations

import os
from pathlib import Path

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
