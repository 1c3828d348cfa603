"""The `lab` command: a thin face over the engine. Nothing here imports litellm; `lab run` and
`lab check --model` reach it through `lab.llm` only when a model is actually called."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, TextIO

from lab import __version__

if TYPE_CHECKING:
    import argparse

EXIT_OK, EXIT_NOT_PASSED, EXIT_BAD = 0, 1, 2


def _exercise_dirs(dest: str) -> argparse.ArgumentParser:
    import argparse

    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--exercises", dest=dest, action="append", default=[], metavar="DIR",
                         help="an extra exercise folder, searched first (repeatable)")
    return options


def _parser() -> argparse.ArgumentParser:
    import argparse

    # `lab --exercises A list --exercises B` keeps both: a subcommand's defaults would otherwise
    # overwrite what was given before the subcommand, so each level has its own dest (merged in main)
    common = _exercise_dirs("command_exercises")
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument("--model", help="litellm model name, e.g. openai/gpt-4o-mini (default: LAB_MODEL, then the config file)")
    model.add_argument("--api-base", help="base URL of an OpenAI-compatible server (default: LAB_API_BASE)")
    model.add_argument("--judge-model", help="model for judge criteria (default: LAB_JUDGE_MODEL, then the attempt's model)")
    model.add_argument("--timeout", type=float, help="seconds to wait for the model (default: LAB_TIMEOUT or 60)")

    parser = argparse.ArgumentParser(
        prog="lab", parents=[_exercise_dirs("exercises")],
        description="Prompt Lab: practise directing AI systems. Without a command, opens the lab.",
    )
    parser.add_argument("--version", action="version", version=f"prompt-lab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", parents=[common], help="list exercises with your status")
    p.add_argument("--track", help="only this track")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("show", parents=[common], help="print an exercise's brief")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("run", parents=[common, model], help="run a prompt against an exercise and grade it")
    p.add_argument("id")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="your prompt (or system prompt) as text")
    source.add_argument("--prompt-file", metavar="F", help="read it from a file, or '-' for standard input")
    p.add_argument("--samples", type=int, help="model calls per case (default: the exercise's rubric.samples)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (the stream goes to stderr)")

    p = sub.add_parser("validate", parents=[common], help="check exercise files for format and template errors")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: every exercise root)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("check", parents=[common, model], help="validate, then grade every example against its expectation")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: every exercise root)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("attempt", help="show a recorded attempt: prompt, outputs, grade and the judge's exchanges")
    p.add_argument("attempt_id", type=int, metavar="ID", help="the attempt number (`lab run` prints it)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("progress", parents=[common], help="your progress per track and exercise")
    p.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        # `lab` alone opens the lab: parsing options for every command would only delay its first frame
        from lab.tui.app import run_app

        return run_app(exercise_dirs=[])
    parser = _parser()
    args = parser.parse_args(argv)
    args.exercises = [*args.exercises, *getattr(args, "command_exercises", [])]
    from lab.errors import LabError

    try:
        if args.command is None:
            from lab.tui.app import run_app

            return run_app(exercise_dirs=args.exercises)
        handler = {
            "list": cmd_list, "show": cmd_show, "run": cmd_run, "validate": cmd_validate,
            "check": cmd_check, "progress": cmd_progress, "attempt": cmd_attempt,
        }[args.command]
        return handler(args)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return EXIT_BAD
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


# ------------------------------------------------------------------ helpers


def _catalog(args: argparse.Namespace) -> Any:
    from lab.loader import load_catalog

    return load_catalog(args.exercises)


def _warn_problems(catalog: Any) -> None:
    if catalog.broken_files or catalog.problems:
        n = len(catalog.broken_files)
        first = catalog.problems[0] if catalog.problems else None
        what = f"{n} exercise file(s) could not be loaded" if n else "some exercise files have problems"
        print(f"lab: {what}; `lab validate` lists every problem.", file=sys.stderr)
        if first is not None:
            print(f"  first: {str(first).splitlines()[0]}", file=sys.stderr)


def _store() -> Any:
    from lab.store import Store

    return Store()


def _print_json(data: Any, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout  # looked up per call: a default bound at import misses a replaced stdout
    json.dump(data, stream, ensure_ascii=False, indent=2)
    stream.write("\n")


# ------------------------------------------------------------------ commands


def cmd_list(args: argparse.Namespace) -> int:
    from lab.report import table

    catalog = _catalog(args)
    with _store() as store:
        progress = store.progress()
    rows = []
    for e in catalog.exercises:
        if args.track and e.track != args.track:
            continue
        p = progress.get(e.id)
        rows.append({
            "id": e.id, "title": e.title, "track": e.track, "level": e.level, "skills": list(e.skills), "lang": e.lang,
            "status": p.status if p else "new", "best_score": None if p is None or p.best_score is None else round(p.best_score, 4),
            "attempts": p.attempts if p else 0,
        })
    if args.track and not rows and args.track not in catalog.tracks():
        from lab.errors import LabError

        raise LabError(f"No track '{args.track}'. Tracks: {', '.join(catalog.tracks()) or 'none'}.")
    if args.json:
        _print_json(rows)
    else:
        lines = table(
            [(r["id"], r["title"], r["level"], ",".join(r["skills"]), r["lang"], r["status"],
              "" if r["best_score"] is None else f"{r['best_score']:.2f}") for r in rows],
            ["ID", "TITLE", "LVL", "SKILLS", "LANG", "STATUS", "BEST"],
        )
        print("\n".join(lines))
    _warn_problems(catalog)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from lab.prompts import render_text

    exercise = _catalog(args).get(args.id)
    brief = render_text(exercise, "brief") or ""
    system = render_text(exercise, "system") if exercise.writes == "prompt" else None
    if args.json:
        _print_json({
            "id": exercise.id, "title": exercise.title, "track": exercise.track, "level": exercise.level,
            "skills": list(exercise.skills), "lang": exercise.lang, "writes": exercise.writes, "brief": brief,
            "system": system, "starter": render_text(exercise, "starter"), "cases": [c.name for c in exercise.cases],
            "pass_mark": exercise.rubric.pass_, "hints": len(exercise.hints), "path": str(exercise.path),
        })
        return EXIT_OK
    print(f"# {exercise.title}\n")
    print(f"{exercise.id} · {exercise.track} · level {exercise.level} · you write the {'system prompt' if exercise.writes == 'system' else 'prompt'}\n")
    print(brief)
    if system:
        print(f"\n## System prompt set by the exercise\n\n{system}")
    print(f"\nCases: {', '.join(c.name for c in exercise.cases)} · pass mark {exercise.rubric.pass_:.2f} · {len(exercise.hints)} hint(s)")
    return EXIT_OK


NO_MODEL = ("No model chosen: pass --model (e.g. --model openai/gpt-4o-mini, or --model openai/NAME "
            "--api-base http://127.0.0.1:11434/v1 for a local server), set LAB_MODEL, or pick one in the lab.")


def _settings(args: argparse.Namespace) -> Any:
    from lab.config import load_settings

    return load_settings(model=args.model, api_base=args.api_base, judge_model=args.judge_model, timeout=args.timeout)


def _call_config(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from lab.errors import LabError

    settings = _settings(args)
    config = settings.call_config()
    if config is None:
        raise LabError(NO_MODEL)
    return settings, config, settings.judge_call_config()


def _read_prompt(args: argparse.Namespace) -> str:
    from lab.errors import LabError

    if args.prompt is not None:
        return str(args.prompt)
    if args.prompt_file == "-":
        return sys.stdin.read()
    try:
        return Path(args.prompt_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise LabError(f"Cannot read {args.prompt_file}: {exc.strerror}.") from exc
    except UnicodeDecodeError as exc:
        raise LabError(f"{args.prompt_file} is not UTF-8 text.") from exc


class OrderedStream:
    """Streams one call at a time to the terminal while the others run, buffering theirs until their turn."""

    def __init__(self, slots: list[tuple[str, int]], stream: TextIO, samples: int, paint: Any):
        self.slots, self.stream, self.samples, self.paint = slots, stream, samples, paint
        self.buffers: dict[tuple[str, int], list[str]] = {s: [] for s in slots}
        self.done: set[tuple[str, int]] = set()
        self.current = 0
        self.lock = threading.Lock()
        self.started = False

    def _header(self, index: int) -> None:
        if index < len(self.slots):
            case, sample = self.slots[index]
            label = case if self.samples == 1 else f"{case} · sample {sample + 1}"
            self.stream.write(self.paint.dim(f"── {label} ──") + "\n")
            self.stream.flush()

    def delta(self, case: str, sample: int, text: str) -> None:
        with self.lock:
            key = (case, sample)
            if not self.started:
                self.started = True
                self._header(0)
            if self.current < len(self.slots) and self.slots[self.current] == key:
                self.stream.write(text)
                self.stream.flush()
            else:
                self.buffers[key].append(text)

    def finished(self, case: str, sample: int, text: str) -> None:
        with self.lock:
            if not self.started:
                self.started = True
                self._header(0)
            self.done.add((case, sample))
            while self.current < len(self.slots) and self.slots[self.current] in self.done:
                self.stream.write("\n")
                self.current += 1
                self._header(self.current)
                if self.current < len(self.slots):
                    self.stream.write("".join(self.buffers[self.slots[self.current]]))
                self.stream.flush()


def cmd_run(args: argparse.Namespace) -> int:
    from lab.attempts import run_attempt
    from lab.errors import CancelledError, ModelError
    from lab.report import Paint, grade_lines

    if args.samples is not None and not 1 <= args.samples <= 20:
        from lab.errors import LabError

        raise LabError("--samples must be between 1 and 20.")
    exercise = _catalog(args).get(args.id)
    text = _read_prompt(args)
    settings, config, judge = _call_config(args)
    out = sys.stderr if args.json else sys.stdout
    paint = Paint(out)
    samples = args.samples or exercise.rubric.samples
    slots = [(c.name, s) for c in exercise.cases for s in range(samples)]
    stream = OrderedStream(slots, out, samples, paint)
    with _store() as store:
        try:
            outcome = run_attempt(
                exercise, text, config=config, store=store, samples=samples, judge_config=judge,
                concurrency=settings.concurrency, on_delta=stream.delta, on_output=stream.finished,
            )
        except (ModelError, CancelledError) as exc:
            if stream.started:
                out.write("\n")
            if args.json:
                _print_json({"exercise": exercise.id, "model": config.model, "error": str(exc),
                             "kind": getattr(exc, "kind", "cancelled"), "attempt_id": _last_attempt(store, exercise.id)})
            print(f"lab: {exc}", file=sys.stderr)
            return EXIT_BAD
    if args.json:
        _print_json(outcome.to_dict())
    else:
        p = Paint(sys.stdout)
        print()
        print("\n".join(grade_lines(outcome.to_dict(), p)))
        u = outcome.usage
        print(p.dim(f"{u.prompt_tokens} prompt + {u.completion_tokens} completion tokens · ${u.cost_usd:.4f} · {outcome.duration_s:.1f} s · attempt #{outcome.attempt_id}"))
    return EXIT_OK if outcome.grade.passed else EXIT_NOT_PASSED


def _last_attempt(store: Any, exercise_id: str) -> int | None:
    attempts = store.attempts(exercise_id, limit=1)
    return attempts[0].id if attempts else None


def cmd_validate(args: argparse.Namespace) -> int:
    from lab.loader import load_paths

    catalog = load_paths(args.paths, args.exercises)
    if args.json:
        _print_json({
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
    from lab.checking import check_examples, coverage_warnings
    from lab.loader import load_paths
    from lab.report import Paint

    catalog = load_paths(args.paths, args.exercises)
    judge = None
    if args.model or args.judge_model:
        from lab.judging import ModelJudge

        judge = ModelJudge(_settings(args).judge_call_config())
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
        _print_json({"exercises": report, "contradictions": contradictions, "undecided": undecided,
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


def cmd_attempt(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from lab.judging import stored_exchanges
    from lab.report import Paint

    with _store() as store:
        record = store.attempt(args.attempt_id)
    exchanges = stored_exchanges(record.result)
    if args.json:
        _print_json({**asdict(record), "judge_exchanges": exchanges})
        return EXIT_OK
    paint = Paint(sys.stdout)
    result = record.result or {}
    score = "" if record.score is None else f" · score {record.score:.2f}" + (" · passed" if record.passed else " · not passed")
    print(paint.bold(f"Attempt #{record.id} · {record.exercise_id} · {record.model} · {record.status}{score}"))
    print(paint.dim(f"{record.started_at} · {record.samples} sample(s) · {record.hints_used} hint(s) · "
                    f"{record.prompt_tokens} + {record.completion_tokens} tokens · ${record.cost_usd:.4f}"))
    if record.error:
        print(paint.bad(f"error: {record.error}"))
    print(f"\n## Prompt\n\n{record.prompt}")
    for case in result.get("cases", []):
        outputs = case.get("outputs", [])
        for n, output in enumerate(outputs, 1):
            label = case["name"] if len(outputs) == 1 else f"{case['name']} · sample {n}"
            print(f"\n## Output: {label}\n\n{output}")
    if result.get("criteria"):
        from lab.report import grade_lines

        print("\n## Grade\n")
        print("\n".join(grade_lines(result, paint)))
    for e in exchanges:
        where = e["case"] if e["case"] != "*" else "all cases"
        print(paint.bold(f"\n## Judge · {e['criterion']} · {where} #{e['sample'] + 1} · {e['model']} ({e['route']}) · try {e['try']}"))
        for m in e["messages"]:
            print(paint.dim(f"[{m.get('role')}]") + f"\n{m.get('content')}")
        print(paint.dim("[judge answer]") + f"\n{e['answer']}")
        if e.get("problem") and e["try"] == 2:
            print(paint.warn(f"unusable: {e['problem']}"))
    return EXIT_OK


def cmd_progress(args: argparse.Namespace) -> int:
    from lab.report import table

    catalog = _catalog(args)
    with _store() as store:
        progress = store.progress()
    tracks: dict[str, dict[str, Any]] = {}
    for e in catalog.exercises:
        t = tracks.setdefault(e.track, {"track": e.track, "exercises": 0, "passed": 0, "attempts": 0, "items": []})
        p = progress.get(e.id)
        t["exercises"] += 1
        t["passed"] += bool(p and p.passed)
        t["attempts"] += p.attempts if p else 0
        t["items"].append({"id": e.id, "title": e.title, "level": e.level, "attempts": p.attempts if p else 0,
                           "best_score": None if p is None or p.best_score is None else round(p.best_score, 4),
                           "passed": bool(p and p.passed)})
    if args.json:
        _print_json({"tracks": [{**{k: v for k, v in t.items() if k != "items"}, "exercises_list": t["items"]} for t in tracks.values()]})
        return EXIT_OK
    for t in tracks.values():
        share = t["passed"] / t["exercises"] if t["exercises"] else 0
        bar = "█" * round(share * 20) + "░" * (20 - round(share * 20))
        print(f"{t['track']}  {bar}  {t['passed']}/{t['exercises']} passed · {t['attempts']} attempt(s)")
        rows = [(i["id"], i["level"], i["attempts"], "" if i["best_score"] is None else f"{i['best_score']:.2f}", "yes" if i["passed"] else "")
                for i in t["items"] if i["attempts"]]
        if rows:
            print("\n".join("  " + line for line in table(rows, ["ID", "LVL", "ATTEMPTS", "BEST", "PASSED"])))
        print()
    _warn_problems(catalog)
    return EXIT_OK
