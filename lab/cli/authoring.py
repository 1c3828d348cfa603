"""The trainer's authoring commands: new, validate and check."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from lab.cli.common import EXIT_BAD, EXIT_NOT_PASSED, EXIT_OK, print_json, settings_from

if TYPE_CHECKING:
    import argparse


def register(sub: Any, common: argparse.ArgumentParser, model: argparse.ArgumentParser) -> None:
    p = sub.add_parser("new", parents=[common], help="write a new exercise that validates, to edit (in your exercise folder, or --exercises DIR)")
    p.add_argument("id", metavar="TRACK/NAME")
    p.set_defaults(handler=cmd_new)

    p = sub.add_parser("validate", parents=[common], help="check exercise files for format and template errors")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: every exercise root)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("check", parents=[common, model], help="validate, then grade every example against its expectation")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: every exercise root)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_check)


def cmd_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lab import paths
    from lab.catalog_index import load_index
    from lab.errors import LabError
    from lab.skeleton import check_new_id, write_skeleton

    check_new_id(args.id)
    existing = load_index(args.exercises).entry(args.id)
    if existing is not None:
        raise LabError(f"An exercise {args.id} exists already ({existing.path}): choose another NAME.")
    root = Path(args.exercises[0]).expanduser() if args.exercises else paths.user_exercises_dir()
    path = write_skeleton(root, args.id)
    print(f"Wrote {path}")
    extra = "".join(f" --exercises {d}" for d in args.exercises)
    print(f"Edit it, then `lab check{extra} {path}`; `lab show{extra} {args.id}` shows it as a learner sees it.")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from lab.catalog_index import record_catalog
    from lab.loader import load_paths

    catalog = load_paths(args.paths, args.exercises)
    record_catalog(catalog)
    if args.json:
        print_json({
            "exercises": len(catalog.exercises),
            "problems": [{"path": str(p.path), "line": p.line, "message": p.message, "fix": p.fix} for p in catalog.problems],
        })
    else:
        for problem in catalog.problems:
            print(problem)
        files = len(catalog.exercises) + len(catalog.broken_files)
        print(f"{len(catalog.exercises)} of {files} exercise file(s) valid; {len(catalog.problems)} problem(s).",
              file=sys.stderr if catalog.problems else sys.stdout)
    return EXIT_BAD if catalog.problems else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from lab.catalog_index import record_catalog
    from lab.checking import check_examples, coverage_warnings
    from lab.loader import load_paths
    from lab.report import Paint

    catalog = load_paths(args.paths, args.exercises)
    record_catalog(catalog)
    judge = None
    if args.model or args.judge_model:
        from lab.judging import ModelJudge

        judge = ModelJudge(settings_from(args).judge_call_config())
    paint = Paint(sys.stdout)
    report: list[dict[str, Any]] = []
    contradictions = undecided = 0
    for exercise in catalog.exercises:
        verdicts = check_examples(exercise, judge=judge)
        warnings = coverage_warnings(exercise)
        entry = {"id": exercise.id, "path": str(exercise.path), "warnings": warnings, "examples": []}
        for v in verdicts:
            contradictions += v.contradicts
            undecided += v.verdict == "undecided"
            entry["examples"].append({"index": v.index, "expect": v.expect, "verdict": v.verdict, "score": round(v.grade.score, 4),
                                      "needs_model": v.verdict == "undecided" and judge is None, "ungraded": v.grade.ungraded})
            if not args.json and (v.contradicts or v.verdict == "undecided"):
                what = paint.bad("CONTRADICTS") if v.contradicts else paint.warn("UNDECIDED" if judge else "NEEDS A MODEL")
                print(f"{what} {exercise.id} {v.label}: expected {v.expect}, graded {v.verdict} (score {v.grade.score:.2f})")
                for c in v.grade.criteria:
                    if not c.passed:
                        print(f"    {c.id}: {c.reason}")
        if not args.json:
            for w in warnings:
                print(paint.warn(f"warning {exercise.id}: {w}"))
        report.append(entry)
    if args.json:
        print_json({"exercises": report, "contradictions": contradictions, "undecided": undecided,
                     "problems": [{"path": str(p.path), "line": p.line, "message": p.message, "fix": p.fix} for p in catalog.problems]})
    else:
        for problem in catalog.problems:
            print(problem)
        n = sum(len(e["examples"]) for e in report)
        summary = f"{len(catalog.exercises)} exercise(s), {n} example(s): {contradictions} contradict their expectation"
        if undecided and judge is None:
            summary += f", {undecided} need a model to decide (run `lab check --model M`)"
        elif undecided:
            summary += f", {undecided} stay undecided (the judge gave no usable answer)"
        print(summary + ".")
    if catalog.problems:
        return EXIT_BAD
    return EXIT_NOT_PASSED if contradictions else EXIT_OK
