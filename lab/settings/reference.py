"""The table of every `config.toml` key in docs/config.md, made from `Settings` itself so the page
cannot drift from the code: `python -m lab.settings.reference docs/config.md` rewrites it in place, and
tests/test_config_docs.py fails when the page and the fields differ."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from lab.settings.config import Settings

BEGIN, END = "<!-- settings:begin (python -m lab.settings.reference docs/config.md) -->", "<!-- settings:end -->"


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) in (Union, types.UnionType):
        names = [_type_name(a) for a in get_args(annotation) if a is not type(None)]
        return " or ".join(names)
    return {str: "text", int: "whole number", float: "number", bool: "true/false"}.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _bounds(metadata: list[Any]) -> str:
    parts = []
    for m in metadata:
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            if getattr(m, attr, None) is not None:
                parts.append(f"{sign} {getattr(m, attr)}")
    return f" ({', '.join(parts)})" if parts else ""


def reference_table() -> str:
    """One row per Settings field: the key, its `LAB_` variable, type, default and meaning."""
    rows = ["| key | variable | type | default | what it sets |", "|---|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = "none" if field.default is None else f"`{field.default}`"
        meaning = (field.description or "").replace("|", "\\|")  # a | would end the cell
        rows.append(f"| `{name}` | `LAB_{name.upper()}` | {_type_name(field.annotation)}{_bounds(field.metadata)} | {default} | {meaning} |")
    return "\n".join(rows)


def rewrite(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    page.write_text(f"{head}{BEGIN}\n{reference_table()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    rewrite(Path(sys.argv[1]))
