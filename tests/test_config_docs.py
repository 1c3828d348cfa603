"""docs/config.md lists exactly the keys `Settings` has, as the generator writes them, and the README links it."""

import re
from pathlib import Path

from lab.settings.config import Settings
from lab.settings.reference import BEGIN, END, reference_table

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "config.md"


def _section() -> str:
    return PAGE.read_text(encoding="utf-8").split(BEGIN, 1)[1].split(END, 1)[0].strip()


def test_the_page_lists_exactly_the_settings_fields():
    keys = re.findall(r"^\| `(\w+)` \| `LAB_\w+` \|", _section(), flags=re.M)
    assert keys == list(Settings.model_fields)


def test_the_table_is_what_the_generator_writes_now():
    # a changed default, bound or description fails here: run `python -m lab.settings.reference docs/config.md`
    assert _section() == reference_table()


def test_every_key_has_a_description():
    assert all(f.description for f in Settings.model_fields.values())


def test_the_readme_links_the_page():
    assert "(docs/config.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
