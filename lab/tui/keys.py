"""Key bindings shared by the screens, the learner's keymap, and the rule that hides letter keys
while the learner is typing (an `h` typed into the editor is text, not a hint request)."""

from __future__ import annotations

import os
from typing import Any

from textual.binding import Binding, BindingType
from textual.screen import Screen

from lab.settings import paths


def early_config() -> dict[str, Any]:
    """The raw config file, read with tomllib only: the theme and keymap are needed before the
    first frame, long before the full settings (pydantic) are loaded in a worker."""
    try:
        text = paths.config_file().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}  # no config yet (a first start), or one the full settings load reports in words
    import tomllib  # only when there is a file to read: a first start skips the import

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def early_theme(config: dict[str, Any]) -> str | None:
    value = os.environ.get("LAB_THEME") or config.get("theme")
    return value if isinstance(value, str) and value else None


def keymap_from(config: dict[str, Any]) -> dict[str, str]:
    """The `[keymap]` table of config.toml: binding id -> keys ("ctrl+s" or "ctrl+s,f5")."""
    table = config.get("keymap")
    if not isinstance(table, dict):
        return {}
    return {str(k): str(v) for k, v in table.items() if isinstance(v, str)}


def unknown_ids(keymap: dict[str, str]) -> list[str]:
    """Keymap ids that name no binding (checked after start-up: it imports every screen)."""
    known = all_binding_ids()
    return sorted(k for k in keymap if k not in known)


def all_binding_ids() -> set[str]:
    from lab.tui.app import binding_owners

    ids: set[str] = set()
    for _, owner in binding_owners():
        for binding in Binding.make_bindings(owner.BINDINGS):
            if binding.id:
                ids.add(binding.id)
    return ids


def is_letter_key(key: str) -> bool:
    return all(len(k.strip()) == 1 or k.strip() in ("slash", "question_mark", "space") for k in key.split(","))


def letter_actions(bindings: list[BindingType]) -> set[str]:
    """Actions bound to a plain character, which a focused text field would swallow."""
    return {b.action for b in Binding.make_bindings(bindings) if is_letter_key(b.key)}


TEXT_FIELDS = ("Input", "TextArea")


def typing(screen: Screen[Any]) -> bool:
    """Whether the focus is in a text field. By class name, so that TextArea (7 ms to import) is
    not needed before the first frame."""
    focused = screen.focused
    if focused is None or getattr(focused, "read_only", False):
        return False
    return any(cls.__name__ in TEXT_FIELDS and cls.__module__.startswith("textual.widgets") for cls in type(focused).__mro__)


def hide_while_typing(screen: Screen[Any], node_bindings: list[BindingType], action: str) -> bool:
    """True when `action` is on a letter key and the learner is typing in a text field (not when
    the action comes from the command palette, where nothing is being typed into the editor)."""
    if getattr(screen.app, "running_palette_action", False):
        return False
    return typing(screen) and action in letter_actions(node_bindings)
