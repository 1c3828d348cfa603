"""The lab's own words around an exercise, in the exercise's language (gettext, domain `lab`).

English is the source language: every marked string is English, and `lab/settings/locale/en` holds it
as its own translation so both catalogues are complete. French (`fr`, `fr-FR`, `fr-CA`, ...) has
`lab/settings/locale/fr`. Any other `lang` reads English. The UI chrome outside an exercise stays English.

A translator is handed to whoever needs it (the checks get it in their `CheckContext`), never
installed globally: two exercises in two languages can be graded side by side. Translators are
immutable, so one per language is cached.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

DOMAIN = "lab"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "fr")
SOURCE_LANGUAGE = "en"


def language(tag: str | None) -> str:
    """The catalogue for a BCP 47 tag: its primary subtag when the lab has it, else English."""
    primary = (tag or "").split("-")[0].split("_")[0].lower()
    return primary if primary in LANGUAGES else SOURCE_LANGUAGE


@lru_cache(maxsize=None)
def _load(lang: str) -> gettext.NullTranslations:
    # no fallback: a catalogue missing from an install is a packaging bug, not a reason to switch language quietly
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo", "rb") as fh:
        return gettext.GNUTranslations(fh)


def translator(tag: str | None) -> gettext.NullTranslations:
    """The translations for an exercise's `lang` (English for anything but French)."""
    return _load(language(tag))


def N_(text: str) -> str:
    """Marks text for the catalogue where it is defined; it is translated where it is shown."""
    return text


ENGLISH = gettext.NullTranslations()
"""The source strings themselves: for author-facing output (`lab check`), which stays English."""
