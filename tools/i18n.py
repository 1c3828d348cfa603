"""The lab's message catalogues (lab/settings/locale/<lang>/LC_MESSAGES/lab.po and .mo), kept with Babel.

    python tools/i18n.py update    # extract the marked strings from lab/ and graders/, merge them
                                   # into every .po (English filled in as itself), compile the .mo
    python tools/i18n.py check     # what tests/test_i18n.py asserts: exit 1 and say what is wrong

A marked string is the first argument of `gettext(...)` / `_(...)`, or the first two of
`ngettext(...)`, with literal text (see DEVELOPERS.md). Babel is a test dependency only: the
compiled .mo files are committed and ship in the wheel; the lab reads them with the standard
library's gettext.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "lab" / "settings" / "locale"
SOURCES = ("lab", "graders")
LANGUAGES = ("en", "fr")
SOURCE_LANGUAGE = "en"
PROJECT = "prompt-lab"


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "lab.po"


def mo_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "lab.mo"


def extract() -> Catalog:
    """Every marked string in the sources, as a template."""
    template = Catalog(project=PROJECT, fuzzy=False)
    for source in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
                ROOT / source, method_map=[("**.py", "python")], keywords=DEFAULT_KEYWORDS, strip_comment_tags=True):
            template.add(message, None, [(f"{source}/{filename}", lineno)], auto_comments=comments, context=context)
    return template


def read(lang: str) -> Catalog:
    with open(po_path(lang), "rb") as fh:
        return read_po(fh, locale=lang)


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


# gettext's usual French rule (0 and 1 singular). CLDR adds a third form for round millions,
# which no message of the lab needs; a new catalogue starts from this, then keeps its header.
PLURALS = {"fr": (2, "(n > 1)")}


def update() -> None:
    for lang in LANGUAGES:
        template = extract()  # afresh for each language: a catalogue takes the template's messages as they are
        path = po_path(lang)
        if path.exists():
            catalog = read(lang)
            created = catalog.creation_date
            catalog.update(template)
            catalog.creation_date = created  # an update that changes no message changes no byte
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, project=PROJECT, fuzzy=False)
            if lang in PLURALS:
                catalog._num_plurals, catalog._plural_expr = PLURALS[lang]
            catalog.update(template)
        if lang == SOURCE_LANGUAGE:  # the source strings are their own English
            for message in catalog:
                if message.id:
                    message.string = message.id
                    message.flags.discard("fuzzy")
        catalog.obsolete.clear()  # a string no longer in the code has nothing left to translate
        with open(path, "wb") as fh:
            write_po(fh, catalog, width=110, sort_output=True, include_lineno=False)  # no churn when code moves
        mo_path(lang).write_bytes(compiled(read(lang)))


# a call with literal text, as the extractor should see it; one it misses (say, inside an f-string) is unmarked
_CALL = re.compile(r"""\b(?:n?gettext|N_)\(\s*(?:"|')""")


def unextracted() -> list[str]:
    """Source files where more calls are written than the extractor found (a call it cannot read)."""
    template = extract()
    seen: dict[str, int] = {}
    for message in template:
        for filename, _ in message.locations:
            seen[filename] = seen.get(filename, 0) + 1
    found = []
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            written = len(_CALL.findall(path.read_text(encoding="utf-8")))
            if written > seen.get(name, 0):
                found.append(f"{name}: {written} translation call(s) but {seen.get(name, 0)} extracted; "
                             "give gettext/ngettext literal text outside f-strings.")
    return found


def problems() -> list[str]:
    """What keeps the catalogues from being complete and current, one sentence each."""
    found = unextracted()
    wanted = {m.id if isinstance(m.id, str) else m.id[0]: m for m in extract() if m.id}
    for lang in LANGUAGES:
        if not po_path(lang).exists():
            found.append(f"{po_path(lang).relative_to(ROOT)} is missing: run `python tools/i18n.py update`.")
            continue
        catalog = read(lang)
        have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
        for key in sorted(set(wanted) - set(have)):
            found.append(f"{lang}: {key!r} is marked in the code but not in the catalogue: run `python tools/i18n.py update`.")
        for key in sorted(set(have) - set(wanted)):
            found.append(f"{lang}: {key!r} is in the catalogue but no longer in the code: run `python tools/i18n.py update`.")
        for key, message in sorted(have.items()):
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.fuzzy or not all(strings) or (message.pluralizable and len(strings) != catalog.num_plurals):
                found.append(f"{lang}: {key!r} has no (or only a fuzzy) translation: write its msgstr in {po_path(lang).relative_to(ROOT)}.")
        if not mo_path(lang).exists() or mo_path(lang).read_bytes() != compiled(catalog):
            found.append(f"{mo_path(lang).relative_to(ROOT)} does not match its .po: run `python tools/i18n.py update`.")
    return found


def main(argv: list[str]) -> int:
    if argv == ["update"]:
        update()
        argv = ["check"]
    if argv == ["check"]:
        found = problems()
        print("\n".join(found) or "The catalogues are complete and compiled.")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
