"""The trainer's authoring commands: new, validate and check."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from lab.cli.common import EXIT_BAD, EXIT_NOT_PASSED, EXIT_OK, cache_options, print_json, settings_from, with_cache_mode

if TYPE_CHECKING:
    import argparse


def register(sub: Any, common: argparse.ArgumentParser, model: argparse.ArgumentParser) -> None:
    p = sub.add_parser("new", parents=[common], help="write a new exercise that validates, to edit (in your exercise folder, or --exercises DIR)")
    p.add_argument("id", metavar="TRACK/NAME")
    from lab.format.skeleton import KIND_HELP, KINDS

    p.add_argument("--kind", choices=KINDS, default="prompt", help=f"what the learner writes (default prompt); {KIND_HELP}")
    p.set_defaults(handler=cmd_new)

    p = sub.add_parser("validate", parents=[common], help="check exercise files for format and template errors")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: every exercise root)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("check", parents=[common, model], help="validate, then grade every example against its expectation")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: every exercise root)")
    p.add_argument("--solution", action="store_true",
                   help="also send each exercise's solution to the model and report those that fail to pass")
    cache_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_check)


def cmd_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lab.errors import LabError
    from lab.format.catalog import load_index
    from lab.format.skeleton import check_new_id, write_skeleton
    from lab.settings import paths

    check_new_id(args.id)
    existing = load_index(args.exercises).entry(args.id)
    if existing is not None:
        raise LabError(f"An exercise {args.id} exists already ({existing.path}): choose another NAME.")
    root = Path(args.exercises[0]).expanduser() if args.exercises else paths.user_exercises_dir()
    path = write_skeleton(root, args.id, args.kind)
    print(f"Wrote {path}")
    extra = "".join(f" --exercises {d}" for d in args.exercises)
    print(f"Edit it, then `lab check{extra} {path}`; `lab show{extra} {args.id}` shows it as a learner sees it.")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from lab.format.catalog import record_catalog
    from lab.format.loader import load_paths

    catalog = load_paths(args.paths, args.exercises)
    record_catalog(catalog)
    if args.json:
        print_json({
            "exercises": len(catalog.exercises),
            "problems": [p.as_json() for p in catalog.problems],
        })
    else:
        for problem in catalog.problems:
            print(problem)
        files = len(catalog.exercises) + len(catalog.broken_files)
        print(f"{len(catalog.exercises)} of {files} exercise file(s) valid; {len(catalog.problems)} problem(s).",
              file=sys.stderr if catalog.problems else sys.stdout)
    return EXIT_BAD if catalog.problems else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from lab.format.catalog import record_catalog
    from lab.format.loader import load_paths
    from lab.practice.checking import check_examples, coverage_warnings
    from lab.practice.report import Paint

    catalog = load_paths(args.paths, args.exercises)
    record_catalog(catalog)
    judge = None
    if args.model or args.judge_model:
        from lab.practice.judging import ModelJudge

        judge = ModelJudge(with_cache_mode(settings_from(args).judge_call_config(), args))
    solutions = solution_run(args, catalog.exercises) if args.solution else None
    paint = Paint(sys.stdout)
    report: list[dict[str, Any]] = []
    contradictions = undecided = needs_model = failed_solutions = 0
    for exercise in catalog.exercises:
        verdicts = check_examples(exercise, judge=judge)
        warnings = coverage_warnings(exercise)
        entry = {"id": exercise.id, "path": str(exercise.path), "warnings": warnings, "examples": []}
        for v in verdicts:
            contradictions += v.contradicts
            undecided += v.verdict == "undecided"
            needs_model += v.needs_model
            entry["examples"].append({"index": v.index, "expect": v.expect, "verdict": v.verdict, "score": round(v.grade.score, 4),
                                      "needs_model": v.needs_model and judge is None, "ungraded": v.grade.ungraded})
            if not args.json:
                print_example(exercise.id, v, judge is not None, paint)
        if solutions is not None:
            entry["solution"] = solutions(exercise, paint, args.json)
            failed_solutions += entry["solution"]["verdict"] in ("fail", "error")
        if not args.json:
            for w in warnings:
                print(paint.warn(f"warning {exercise.id}: {w}"))
        report.append(entry)
    if args.json:
        print_json({"exercises": report, "contradictions": contradictions, "undecided": undecided,
                    **({"failed_solutions": failed_solutions} if solutions is not None else {}),
                     "problems": [p.as_json() for p in catalog.problems]})
    else:
        for problem in catalog.problems:
            print(problem)
        n = sum(len(e["examples"]) for e in report)
        summary = f"{len(catalog.exercises)} exercise(s), {n} example(s): {contradictions} contradict their expectation"
        if judge is None and needs_model:
            summary += f", {needs_model} need a model to decide (run `lab check --model M`)"
        if judge is None and undecided > needs_model:
            summary += f", {undecided - needs_model} stay undecided (a criterion could not be graded: its reason says why)"
        elif judge is not None and undecided:
            summary += f", {undecided} stay undecided (the judge gave no usable answer)"
        if solutions is not None:
            summary += f"; {failed_solutions} solution(s) fail to pass"
        print(summary + ".")
    if catalog.problems:
        return EXIT_BAD
    return EXIT_NOT_PASSED if contradictions or failed_solutions else EXIT_OK


def solution_run(args: argparse.Namespace, exercises: Any) -> Any:
    """What `--solution` does for one exercise; checks first that the model it needs is chosen."""
    from lab.errors import LabError
    from lab.practice.checking import check_solution

    settings = settings_from(args)
    config, judge_config = with_cache_mode(settings.call_config(), args), with_cache_mode(settings.judge_call_config(), args)
    if config is None and any(e.writes != "answer" for e in exercises):
        raise LabError("lab check --solution sends each exercise's solution to a model: pass --model M (or set LAB_MODEL).")

    def run(exercise: Any, paint: Any, quiet: bool) -> dict[str, Any]:
        from lab.practice.report import score_label

        v = check_solution(exercise, config, judge_config, concurrency=settings.concurrency)
        score = None if v.grade is None else round(v.grade.score, 4)
        if not quiet:
            if v.verdict == "none":
                print(paint.warn(f"warning {exercise.id}: has no solution block to check"))
            elif v.verdict == "error":
                print(f"{paint.bad('SOLUTION ERROR')} {exercise.id}: {v.error}")
            else:
                what = paint.good("ok") if v.verdict == "pass" else paint.bad("SOLUTION FAILS") if v.verdict == "fail" else paint.warn("UNDECIDED")
                print(f"{what} {exercise.id} solution: graded {v.verdict} (score {score_label(v.grade.score, v.grade.passed, v.grade.pass_mark)})")
                if v.verdict != "pass":
                    print_costs(v.grade)
        return {"verdict": v.verdict, "score": score, "error": v.error, "judged": v.judged}

    return run


def print_example(exercise_id: str, v: Any, with_judge: bool, paint: Any) -> None:
    """One line per example with its score, then each criterion that cost points, with the rule it applied."""
    from lab.practice.report import score_label

    if v.contradicts:
        what = paint.bad("CONTRADICTS")
    elif v.verdict == "undecided":
        what = paint.warn("NEEDS A MODEL" if v.needs_model and not with_judge else "UNDECIDED")
    else:
        what = paint.good("ok")
    print(f"{what} {exercise_id} {v.label}: expected {v.expect}, graded {v.verdict} (score {score_label(v.grade.score, v.grade.passed, v.grade.pass_mark)})")
    print_costs(v.grade)


def print_costs(grade: Any) -> None:
    """Each criterion that cost points, its reason, and the rule it applied (an author's view)."""
    from lab.practice.report import score_label

    for c in grade.criteria:
        if c.score < 1.0 or c.ungraded:
            rule = f" [{c.rule}]" if c.rule else ""
            print(f"    {c.id} ({score_label(c.score, c.passed)} ×{c.weight:g}): {c.reason}{rule}")
