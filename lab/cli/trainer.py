"""Running a class: `lab export` (the learner hands in), `lab grade` (the trainer grades a cohort) and
`lab review` (the trainer reviews what a judge decided)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.cli.common import EXIT_BAD, EXIT_OK, open_store

if TYPE_CHECKING:
    import argparse


def register(sub: Any, common: argparse.ArgumentParser, model: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", parents=[common], help="write your attempts as submission JSON Lines for your trainer")
    p.add_argument("--learner", metavar="NAME", help="your name as your trainer knows you (default: LAB_LEARNER, then the config file's `learner`)")
    p.add_argument("--exercise", action="append", default=[], metavar="ID", help="only this exercise (repeatable)")
    p.add_argument("--track", metavar="T", help="only this track")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: standard output)")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("grade", parents=[common, model], help="grade a cohort's submissions with your model; writes DIR/cohort.db and DIR/report.html")
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION", help=".jsonl files from `lab export`, .csv files (learner,exercise,prompt), or folders of them")
    p.add_argument("--out", required=True, metavar="DIR", help="the cohort folder: cohort.db and report.html (run again to resume)")
    p.add_argument("--pick", choices=("last", "best"), default="last", help="which submission of a learner to grade per exercise (default: last)")
    p.add_argument("--concurrency", type=int, default=None, metavar="N", help="model calls in flight at once (default: LAB_CONCURRENCY or 4)")
    p.add_argument("--rpm", type=int, default=None, metavar="N", help="at most N requests a minute")
    p.add_argument("--max-cost", type=float, default=None, metavar="USD", help="stop before this run's spending would pass USD")
    p.add_argument("--cache", dest="use_cache", action="store_true",
                   help="answer requests repeated at temperature 0 from the response cache (off by default: a class is graded afresh)")
    p.add_argument("--arena-max-pairs", type=int, default=None, metavar="N",
                   help="play at most N attack-defence pairs in each arena (default: every pair; docs/trainers.md, Arenas)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=cmd_grade)

    p = sub.add_parser("review", parents=[common], help="review a graded cohort's judged verdicts (confirm or override them); --agreement: how often you and the judge agree")
    p.add_argument("folder", metavar="DIR", help="the cohort folder `lab grade --out DIR` wrote (holds cohort.db)")
    p.add_argument("--agreement", action="store_true", help="print, per criterion, reviews, agreement and Cohen's kappa instead of opening the review screen")
    p.add_argument("--json", action="store_true", help="with --agreement: print it as JSON")
    p.set_defaults(handler=cmd_review)


def learner_name(given: str | None) -> str:
    """--learner, else LAB_LEARNER, else the config file's `learner`; a LabError saying how to set one."""
    from lab.classroom.submissions import NO_LEARNER
    from lab.errors import LabError
    from lab.settings import paths
    from lab.settings.config import load_settings

    from lab.classroom.submissions import name_problem, normalise

    if given is not None:
        name = normalise(given)
        if not name:
            raise LabError("--learner is empty: give your name, e.g. --learner ana.")
    else:
        name = normalise(load_settings().learner or "")
        if not name:
            raise LabError(NO_LEARNER.format(config=paths.config_file()))
    problem = name_problem(name)
    if problem:
        raise LabError(f"This learner name cannot be used: {problem}.")
    return name


def cmd_export(args: argparse.Namespace) -> int:
    from lab.classroom.submissions import export_lines, line_json
    from lab.errors import LabError

    learner = learner_name(args.learner)
    with open_store() as store:
        lines = export_lines(store, learner, exercise_ids(args), args.track)
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
            from lab.settings.paths import replaced_atomically

            with replaced_atomically(target) as out:
                out.write(text)
        except OSError as exc:
            raise LabError(f"Cannot write {args.output}: {exc.strerror}; choose another file with -o.") from exc
        print(f"{len(lines)} attempt(s) of {learner} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK if lines else EXIT_BAD


def exercise_ids(args: argparse.Namespace) -> list[str]:
    """`--exercise` ids as given, a short one (`delimiters`) made whole when the catalogue (with `--exercises`)
    names one exercise so; an id the catalogue does not know is kept (its exercise may be gone, not its attempts)."""
    if not args.exercise:
        return []
    from lab.errors import LabError
    from lab.format.catalog import load_index

    catalog = load_index(args.exercises)
    ids = []
    for given in args.exercise:
        try:
            ids.append(catalog.find(given).id)
        except LabError:
            if any(e.id.endswith("/" + given.strip("/")) for e in catalog.entries):
                raise  # a short id several exercises end with: the message lists them
            ids.append(given)
    return ids


class ProgressLine:
    """A progress bar redrawn in place on a terminal; plain lines, at most one every few seconds, otherwise."""

    def __init__(self, stream: Any, every_s: float = 2.0):
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every_s = every_s if not self.tty else 0.1
        self.last = 0.0
        self.drawn = False
        self.printed = ""

    @staticmethod
    def text(p: Any, bar: bool) -> str:
        left = p.eta_s
        eta = "—" if left is None else f"{left:.0f} s left" if left < 120 else f"{left / 60:.0f} min left"
        finished = p.done + p.failed
        head = f"{p.done}/{p.total} graded"
        if bar:
            width = 24
            filled = round(width * finished / p.total) if p.total else width
            head = "[" + "█" * filled + "░" * (width - filled) + "] " + head
        failed = f" · {p.failed} not graded" if p.failed else ""
        return f"{head}{failed} · {p.rate:.1f}/s · ${p.cost_usd:.4f} · {eta}"

    def __call__(self, p: Any, final: bool = False) -> None:
        import time

        now = time.monotonic()
        if not final and now - self.last < self.every_s:
            return
        self.last = now
        if self.tty:
            self.stream.write("\r\033[K" + self.text(p, True) + ("\n" if final else ""))
            self.drawn = not final
        else:
            line = self.text(p, False)
            if final and line == self.printed:
                return
            self.stream.write(line + "\n")
            self.printed = line
        self.stream.flush()


def load_exercises_for(exercise_ids: list[str], exercise_dirs: list[str]) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """The trainer's catalogue, and its version of every exercise the submissions name; for an unknown or
    broken one, why (the caller names each of its submissions with its file and line)."""
    from lab.errors import LabError
    from lab.format.catalog import UnloadableExercise, load_index

    catalog = load_index(exercise_dirs)
    exercises: dict[str, Any] = {}
    why: dict[str, str] = {}
    for exercise_id in exercise_ids:
        try:
            exercises[exercise_id] = catalog.open(exercise_id)
        except UnloadableExercise:
            why[exercise_id] = f"exercise '{exercise_id}' cannot be loaded; `lab validate` lists its problems, fix them and grade again"
        except LabError as exc:
            hint = str(exc).split(".", 1)[1].strip() if "Did you mean" in str(exc) else ""
            why[exercise_id] = (f"unknown exercise '{exercise_id}': not in the trainer's exercises; add its folder with --exercises DIR"
                                + (f" ({hint.rstrip('?')}?)" if hint else ""))
    return catalog, exercises, why


PROBLEMS_SHOWN = 50  # problems printed as they are found; the others are counted (the report and --json list them all)


class ProblemPrinter:
    """Each problem on stderr as it is found, up to PROBLEMS_SHOWN; then how many more there were."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, problem: Any) -> None:
        self.count += 1
        if self.count <= PROBLEMS_SHOWN:
            from lab.errors import shown

            print(f"lab: {shown(str(problem))} (skipped)", file=sys.stderr)  # a file's name may hold a terminal escape

    def close(self) -> None:
        if self.count > PROBLEMS_SHOWN:
            print(f"lab: … and {self.count - PROBLEMS_SHOWN} more line(s) skipped (the report and --json list them all)", file=sys.stderr)


def cmd_grade(args: argparse.Namespace) -> int:
    from lab.classroom.cohort import CohortStore
    from lab.classroom.grading import Progress, grade_cohort, take_in
    from lab.classroom.lock import FolderLock
    from lab.classroom.submissions import InputProblem
    from lab.classroom.arena import cohort_usage
    from lab.cli.arena import play_arenas_for, print_arenas
    from lab.cli.common import EXIT_NOT_PASSED, call_configs
    from lab.errors import LabError

    for name, value, low in (("--concurrency", args.concurrency, 1), ("--rpm", args.rpm, 1)):
        if value is not None and value < low:
            raise LabError(f"{name} must be at least {low}.")
    if args.max_cost is not None and args.max_cost < 0:
        raise LabError("--max-cost must be 0 or more (US dollars).")
    if args.arena_max_pairs is not None and args.arena_max_pairs < 0:
        raise LabError("--arena-max-pairs must be 0 or more.")
    settings, config, judge = call_configs(args)
    folder = Path(args.out)
    shown = ProblemPrinter()
    with FolderLock(folder) as lock, CohortStore(folder) as store:
        if lock.warning:
            print(f"lab: {lock.warning}", file=sys.stderr)
        run = store.begin_run(config.model)
        take_in(store, run, args.submissions, on_problem=shown)
        catalog, exercises, why = load_exercises_for(store.run_exercises(), args.exercises)
        for exercise_id, message in why.items():
            for path, line, _ in store.skip_exercise(run, exercise_id, message):
                shown(InputProblem(Path(path), line, message))
        shown.close()
        if not exercises:
            store.finish_run(run, calls=0, cost_usd=0.0, graded=0, left=0, wall_s=0.0)
            raise LabError("Nothing to grade: no usable submission was found" + (" (each problem is named above)." if shown.count else "."))
        store.record_levels({exercise_id: exercise.level for exercise_id, exercise in exercises.items()})
        progress = ProgressLine(sys.stderr)
        outcome = grade_cohort(store, exercises, run=run, config=config, judge_config=judge, how=args.pick,
                               concurrency=args.concurrency or settings.concurrency, rpm=args.rpm, max_cost=args.max_cost,
                               on_progress=progress)
        arena = play_arenas_for(store, exercises, outcome, args, settings, config, judge)
        from lab.classroom.report import write_report, write_skipped

        write_skipped(folder, store.problems(run))  # beside cohort.db: what the last run could not use, for whoever reads it
        # the levels of every exercise the trainer has (mastery's weights), not only of those graded in this run
        report = write_report(store, folder, {e.id: e.level for e in catalog.entries})
        final = Progress(total=outcome.total, done=outcome.graded,
                         failed=store.count_results(current=True, where="r.status IN ('failed', 'ungraded')"),
                         cost_usd=outcome.run_usage.cost_usd)
        final.started -= outcome.wall_s
        progress(final, final=True)
        if args.json:
            write_grade_json(sys.stdout, store, outcome, report, arena, cohort_usage(store))
        else:
            print_summary(store, outcome, args, report, shown.count)
            print_arenas(arena, args)
    if shown.count:
        return EXIT_BAD
    return EXIT_NOT_PASSED if outcome.left or arena.unfinished else EXIT_OK


def result_json(r: Any) -> dict[str, Any]:
    criteria = [{"id": c["id"], "score": c["score"], "passed": c["passed"], "ungraded": c["ungraded"]}
                for c in (r.result or {}).get("criteria", [])]
    return {"learner": r.learner, "exercise": r.exercise, "score": None if r.score is None else round(r.score, 4),
            "passed": r.passed, "status": r.status, "criteria": criteria, "error": r.error,
            "version_mismatch": r.version_mismatch, "overridden": list(r.overridden)}


def write_grade_json(stream: Any, store: Any, outcome: Any, report: Path | None, arena: Any, usage: dict[str, Any]) -> None:
    """`lab grade --json` (shared/trainer-workflow.md), written as a stream: a class of any size is never
    held in memory, a result at a time. `usage` is the cohort's, the arenas' calls counted in."""
    from lab.cli.arena import add_arena_json

    import json

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    def listed(name: str, items: Any, last: bool = False) -> None:
        stream.write(f'  "{name}": [')
        first = True
        for item in items:
            stream.write(("\n    " if first else ",\n    ") + dump(item))
            first = False
        stream.write(("" if first else "\n  ") + "]" + ("\n" if last else ",\n"))

    arenas = add_arena_json({"run": {}}, arena)  # the arenas' part: `arenas`, and what this run did in them
    stream.write("{\n")
    listed("learners", store.names("learner", current=True))
    listed("exercises", store.names("exercise", current=True))
    listed("results", (result_json(r) for r in store.iter_results(current=True)))
    stream.write(f'  "usage": {dump({k: usage[k] for k in ("prompt_tokens", "completion_tokens", "cost_usd")})},\n')
    stream.write('  "run": ' + dump({"calls": outcome.calls, "cost_usd": round(outcome.run_usage.cost_usd, 6), "wall_s": round(outcome.wall_s, 3),
                                      "capped": outcome.capped, "left": outcome.left, **arenas["run"]}) + ",\n")
    listed("problems", ({"path": path, "line": line, "message": message} for path, line, message in store.problems(outcome.run)))
    stream.write(f'  "arenas": {dump(arenas["arenas"])},\n')
    stream.write(f'  "report": {dump(None if report is None else str(report))}\n}}\n')


def left_lines(store: Any, outcome: Any, limit: int = 20) -> list[str]:
    lines = []
    for r in store.iter_results(current=True, where="r.status != 'graded'", limit=limit):
        if r.status == "pending":
            why = "not graded yet (the cost cap stopped the run)" if outcome.capped else "not graded yet (another run is grading it)"
        else:
            why = r.error or r.status
        lines.append(f"  {r.learner} · {r.exercise}: {why}")
    if outcome.left > limit:
        lines.append(f"  … and {outcome.left - limit} more (`--json` lists them all)")
    return lines


def print_summary(store: Any, outcome: Any, args: Any, report: Path | None, skipped: int = 0) -> None:
    from lab.practice.report import money, table

    rows = [(r.learner, r.exercise, r.status, "" if r.score is None else f"{r.score:.2f}",
             "" if r.passed is None else ("yes" if r.passed else "no")) for r in store.iter_results(current=True, limit=50)]
    print("\n".join(table(rows, ["LEARNER", "EXERCISE", "STATUS", "SCORE", "PASSED"])))
    if outcome.total > 50:
        print(f"… {outcome.total - 50} more in the report")
    u = outcome.run_usage
    print(f"{outcome.graded} of {outcome.total} graded · {outcome.calls} model call(s) this run · {money(u.cost_usd)} · {outcome.wall_s:.1f} s")
    if outcome.capped:
        pending = store.count_results(current=True, where="r.status = 'pending'")
        print(f"Stopped before the next call would pass --max-cost ${args.max_cost:g} ({money(u.cost_usd)} spent): "
              f"{pending} submission(s) left to grade; run the same command with a higher --max-cost to go on.", file=sys.stderr)
    if outcome.held:
        who = "; ".join(str(h) for h in outcome.holders) or "a run that has not finished"
        print(f"{outcome.held} submission(s) were left to another `lab grade` that is grading them ({who}): "
              "run the same command again once it has finished.", file=sys.stderr)
    if outcome.left:
        print(f"{outcome.left} left ungraded:", file=sys.stderr)
        print("\n".join(left_lines(store, outcome)), file=sys.stderr)
    mismatches = store.count_results(current=True, where="s.exercise_hash IS NOT NULL AND s.exercise_hash != r.exercise_hash")
    if mismatches:
        print(f"{mismatches} submission(s) were made against another version of the exercise (see the report).")
    if skipped:
        print(f"{skipped} submission(s) skipped, not graded (each named above with why; the report lists them too).", file=sys.stderr)
    if report is not None:
        print(f"Report: {report}")


def open_cohort(folder: str) -> Any:
    """The cohort store of DIR, which must hold a cohort.db already (review never creates one)."""
    from lab.classroom.cohort import DATABASE, CohortStore
    from lab.errors import LabError

    path = Path(folder)
    if not (path / DATABASE).is_file():
        what = "does not exist" if not path.exists() else f"has no {DATABASE}"
        raise LabError(f"{folder} {what}: give the folder `lab grade … --out DIR` wrote, or grade the cohort first.")
    return CohortStore(path)


def cmd_review(args: argparse.Namespace) -> int:
    from lab.errors import LabError

    if args.json and not args.agreement:
        raise LabError("--json goes with --agreement (the review screen has no JSON): add --agreement.")
    with open_cohort(args.folder) as store:
        if args.agreement:
            return print_agreement(store, args.json)
        from lab.classroom.report import write_report
        from lab.classroom.review import Session
        from lab.tui.review_app import run_review

        code = run_review(Session.open(store))
        # the report is drawn from cohort.db: redrawn now, it shows the decisions just made (the levels are those `lab grade` recorded)
        report = write_report(store, Path(args.folder))
        print(f"Your decisions are saved in {store.path}; {report} is redrawn with them.")
        return code


def print_agreement(store: Any, as_json: bool) -> int:
    from lab.classroom.review import UNTRUSTED_KAPPA, UNTRUSTED_MIN_REVIEWS, agreement
    from lab.cli.common import print_json
    from lab.practice.report import table

    found = agreement(store)
    if as_json:
        print_json({"criteria": [a.as_json() for a in found]})
        return EXIT_OK
    if not found:
        print("Nothing to review: no criterion of this cohort was decided by a judge model.")
        return EXIT_OK
    rows = [(a.exercise, a.criterion, f"{a.reviewed}/{a.judged}", "—" if a.agreement is None else f"{a.agreement:.0%}",
             "—" if a.kappa is None else f"{a.kappa:.2f}", "untrusted" if a.untrusted else "") for a in found]
    print("\n".join(table(rows, ["EXERCISE", "CRITERION", "REVIEWED", "AGREEMENT", "KAPPA", "FLAG"])))
    for a in found:
        if a.kappa is None and a.reviewed:
            print(f"{a.exercise} · {a.criterion}: kappa {a.why}.")
    untrusted = [a for a in found if a.untrusted]
    if untrusted:
        print(f"untrusted: kappa below {UNTRUSTED_KAPPA} over at least {UNTRUSTED_MIN_REVIEWS} reviews; the rubric text needs rewriting "
              f"({', '.join(f'{a.exercise} · {a.criterion}' for a in untrusted)}).")
    return EXIT_OK
