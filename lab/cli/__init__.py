"""The `lab` command: a thin face over the engine. Nothing here imports litellm; `lab run` and
`lab check --model` reach it through `lab.models.llm` only when a model is actually called.

Each module of this package registers its own subcommands (`register(sub, common, model)`) and
sets `handler` on them, so a new command is a new module and one line in `COMMAND_MODULES`.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Sequence

from lab import __version__
from lab.cli.common import EXIT_BAD, EXIT_OK, exercise_dirs_option, model_options

if TYPE_CHECKING:
    import argparse

# Each command and the module that registers it: a command builds only its own module's parser (the others
# and what they import cost 10-30 ms of every command); `lab --help` and a mistyped command build them all.
# tests/test_cli.py checks this table against what the modules register.
COMMANDS = {
    **dict.fromkeys(("list", "show", "run", "hint", "solution", "history", "attempt", "progress"), "lab.cli.learning"),
    **dict.fromkeys(("try", "compare", "cache"), "lab.cli.playground"),
    **dict.fromkeys(("new", "validate", "check"), "lab.cli.authoring"),
    **dict.fromkeys(("export", "grade", "review"), "lab.cli.trainer"),
    "arena": "lab.cli.arena",
    **dict.fromkeys(("keygen", "certify", "verify"), "lab.cli.certificates"),
    "local": "lab.cli.local",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with `command` (one of COMMANDS) of that command's module only."""
    import argparse

    # `lab --exercises A list --exercises B` keeps both: a subcommand's defaults would otherwise
    # overwrite what was given before the subcommand, so each level has its own dest (merged in main)
    common = exercise_dirs_option("command_exercises")
    model = model_options()
    parser = argparse.ArgumentParser(
        prog="lab", parents=[exercise_dirs_option("exercises")],
        description="Prompt Lab: practise directing AI systems. Without a command, opens the lab.",
    )
    parser.add_argument("--version", action="version", version=f"prompt-lab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (COMMANDS[command],) if command in COMMANDS else COMMAND_MODULES:
        importlib.import_module(name).register(sub, common, model)
    parser.set_defaults(command_names=list(COMMANDS))
    return parser


def command_word(argv: list[str]) -> str | None:
    """argv's first word, past `--exercises DIR`: the command, if one. None when an option comes first (`-h`,
    `--version`: argparse reads the line, and the word may be an option's value)."""
    rest = iter(argv)
    for arg in rest:
        if arg == "--exercises":
            next(rest, None)
        elif arg.startswith("--exercises="):
            continue
        elif arg.startswith("-"):
            return None
        else:
            return arg
    return None


def unknown_command(argv: list[str], commands: list[str]) -> str | None:
    """One sentence for a mistyped command (`lab shw`), with the closest commands; None when argv's first
    word is a command, an option, or absent (argparse says the rest)."""
    import difflib

    arg = command_word(argv)
    if arg is None or arg in commands:
        return None
    close = difflib.get_close_matches(arg, commands, n=2, cutoff=0.5)
    prefixed = [c for c in commands if c.startswith(arg[:2])] if len(arg) >= 2 else []
    guesses = list(dict.fromkeys(close + prefixed))[:2]
    hint = f" Did you mean {' or '.join(repr(g) for g in guesses)}?" if guesses else ""
    from lab.errors import shown

    return f"no command '{shown(arg)}'.{hint} `lab --help` lists them all."


def _only_exercise_dirs(argv: list[str]) -> list[str] | None:
    """The folders of `--exercises DIR` / `--exercises=DIR` when that is all argv holds; None for anything
    else (a command, another option, an abbreviation, a folder named like an option), left to argparse."""
    dirs: list[str] = []
    rest = iter(argv)
    for arg in rest:
        if arg.startswith("--exercises="):
            value = arg.removeprefix("--exercises=")
        elif arg == "--exercises":
            value = next(rest, "-")
            if value.startswith("-"):
                return None
        else:
            return None
        dirs.append(value)
    return dirs


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    dirs = _only_exercise_dirs(argv)
    if dirs is not None:
        # `lab` alone (or with --exercises) opens the lab: building the parser of every command would
        # only delay its first frame, and the index builder that races Textual's import for it
        from lab.tui.launch import open_lab

        return open_lab(dirs)
    word = command_word(argv)
    parser = build_parser(word if word in COMMANDS else None)
    mistyped = unknown_command(argv, parser.get_default("command_names"))
    if mistyped:
        print(f"lab: {mistyped}", file=sys.stderr)
        return EXIT_BAD
    args = parser.parse_args(argv)
    args.exercises = [*args.exercises, *getattr(args, "command_exercises", [])]
    from lab.errors import LabError

    try:
        if args.command is None:
            from lab.tui.launch import open_lab

            return open_lab(args.exercises)
        return int(args.handler(args))
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return EXIT_BAD
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug of ours: one sentence for the user, the traceback only on request
        import os

        if os.environ.get("LAB_DEBUG"):
            raise
        print(f"lab: internal error ({type(exc).__name__}: {str(exc)[:200]}); this is a bug in Prompt Lab. "
              "Run again with LAB_DEBUG=1 for the details and report them; your work is saved.", file=sys.stderr)
        return EXIT_BAD


def run() -> int:
    """The `lab` process: `main`, then the heap frozen so the interpreter's exit does not walk it.

    Python's exit collects every object it still tracks; after pydantic, jinja2 and aiohttp are loaded that
    walk took 55-60 ms of every command (`bench/README.md`, "Exit"). Frozen objects are left to the operating
    system: reference counting still closes files and connections at exit, only cyclic garbage is not freed."""
    import gc

    try:
        return main()
    finally:
        gc.freeze()
