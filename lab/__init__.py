"""Prompt Lab: a terminal practice lab for directing AI systems.

Importing this package must stay cheap: `lab list` and the TUI's first frame depend on it.
Nothing here imports litellm, textual or pydantic.
"""

__version__ = "0.1.0"
