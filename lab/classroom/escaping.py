"""Text as the class's HTML pages show it (`report.html` and its arenas' section): escaped, and with the
control characters a hand-in or a model may hold made visible, so a NUL or an escape sequence never
reaches the file (the HTML parser turns a NUL into U+FFFD or worse, and none of them belongs in a page)."""

from __future__ import annotations

import html
import re
from typing import Any

# C0 controls (but tab and line breaks), DEL and C1 as visible symbols
_CONTROLS = {c: 0x2400 + c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}
_CONTROLS.update({0x7F: 0x2421, **{c: 0xFFFD for c in range(0x80, 0xA0)}})
_PLAIN = re.compile(r"[^<>&\"'\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*")


def e(value: Any) -> str:
    """`value` as text safe inside an HTML element or a quoted attribute."""
    text = "" if value is None else str(value)
    if _PLAIN.fullmatch(text):  # most names and figures: nothing to escape or replace
        return text
    return html.escape(text.translate(_CONTROLS), quote=True)
