"""Running a class: `lab export` (the learner hands in) and `lab grade` (the trainer grades a cohort)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.cli.common import EXIT_BAD, EXIT_OK, open_store

if TYPE_CHECKING:
    import argparse


def register(sub: Any, common: argparse.ArgumentParser, model: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", help="write your attempts as submission JSON Lines for your trainer")
    p.add_argument("--learner", metavar="NAME", help="your name as your trainer knows you (default: LAB_LEARNER, then the config file's `learner`)")
    p.add_argument("--exercise", action="append", default=[], metavar="ID", help="only this exercise (repeatable)")
    p.add_argument("--track", metavar="T", help="only this track")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: standard output)")
    p.set_defaults(handler=cmd_export)


def learner_name(given: str | None) -> str:
    """--learner, else LAB_LEARNER, else the config file's `learner`; a LabError saying how to set one."""
    from lab import paths
    from lab.config import load_settings
    from lab.errors import LabError
    from lab.submissions import NO_LEARNER

    if given is not None:
        if not given.strip():
            raise LabError("--learner is empty: give your name, e.g. --learner ana.")
        return given.strip()
    name = load_settings().learner
    if not name or not name.strip():
        raise LabError(NO_LEARNER.format(config=paths.config_file()))
    return name.strip()


def cmd_export(args: argparse.Namespace) -> int:
    from lab.errors import LabError
    from lab.submissions import export_lines, line_json

    learner = learner_name(args.learner)
    with open_store() as store:
        lines = export_lines(store, learner, args.exercise, args.track)
    if not lines:
        what = []
        if args.exercise:
            what.append("exercise " + ", ".join(args.exercise))
        if args.track:
            what.append(f"track {args.track}")
        if what:
            raise LabError(f"No attempts recorded for {' and '.join(what)}: check the id with `lab progress`, or run it first.")
        raise LabError("No attempts recorded yet: run an exercise first (`lab run ID` or in the lab), then export.")
    text = "".join(line_json(line) + "\n" for line in lines)
    if args.output:
        target = Path(args.output)
        try:
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            raise LabError(f"Cannot write {args.output}: {exc.strerror}; choose another file with -o.") from exc
        print(f"{len(lines)} attempt(s) of {learner} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK if lines else EXIT_BAD
