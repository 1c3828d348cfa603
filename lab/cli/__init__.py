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

COMMAND_MODULES = ("lab.cli.learning", "lab.cli.playground", "lab.cli.authoring", "lab.cli.trainer", "lab.cli.arena",
                   "lab.cli.certificates", "lab.cli.local")


def build_parser() -> argparse.ArgumentParser:
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
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common, model)
    parser.set_defaults(command_names=list(sub.choices))
    return parser


def unknown_command(argv: list[str], commands: list[str]) -> str | None:
    """One sentence for a mistyped command (`lab shw`), with the closest commands; None when argv's first
    word is a command, an option, or absent (argparse says the rest)."""
    import difflib

    rest = iter(argv)
    for arg in rest:
        if arg == "--exercises":
            next(rest, None)
            continue
        if arg.startswith("-"):
            return None
        if arg in commands:
            return None
        close = difflib.get_close_matches(arg, commands, n=2, cutoff=0.5)
        prefixed = [c for c in commands if c.startswith(arg[:2])] if len(arg) >= 2 else []
        guesses = list(dict.fromkeys(close + prefixed))[:2]
        hint = f" Did you mean {' or '.join(repr(g) for g in guesses)}?" if guesses else ""
        return f"no command '{arg}'.{hint} `lab --help` lists them all."
    return None


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
    parser = build_parser()
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
