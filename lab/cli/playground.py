"""The learner's probes: `lab try` (one case, one call, a preview), `lab compare` (two attempts side by
side) and `lab cache` (the response cache's size, or forget it)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from lab.cli.common import (
    EXIT_BAD,
    EXIT_OK,
    cache_options,
    call_configs,
    load_exercises,
    open_store,
    print_json,
    read_texts,
    text_options,
)

if TYPE_CHECKING:
    import argparse


def register(sub: Any, common: argparse.ArgumentParser, model: argparse.ArgumentParser) -> None:
    p = sub.add_parser("try", parents=[common, model],
                       help="try your text on one case: one call, the answer and each criterion's reading of it (not an attempt)")
    p.add_argument("id")
    text_options(p)
    p.add_argument("--case", metavar="NAME", help="the case to try (default: the first)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (the stream goes to stderr)")
    p.add_argument("--yes", action="store_true", help="send even when the try would pass your daily cap (LAB_MAX_COST)")
    cache_options(p)
    p.set_defaults(handler=cmd_try)

    p = sub.add_parser("compare", parents=[common],
                       help="compare two attempts: the prompts' diff, the criteria that changed verdict, each case's two answers")
    p.add_argument("a", metavar="A", help="an attempt number, or `last` (alone: compared with the attempt before it)")
    p.add_argument("b", metavar="B", nargs="?", help="another attempt at the same exercise, or `last`")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser("cache", parents=[common], help="the response cache: its size (`info`), or forget every answer (`clear`)")
    p.add_argument("action", nargs="?", choices=("info", "clear"), default="info")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_cache)


def cmd_try(args: argparse.Namespace) -> int:
    from lab.errors import CancelledError, ModelError
    from lab.practice.report import Paint
    from lab.practice.trying import pick_case, try_case, try_lines
    from lab.settings.i18n import translator

    exercise = load_exercises(args).open(args.id)
    text = read_texts(args, exercise)
    case = pick_case(exercise, args.case)
    settings, config, judge = call_configs(args, exercise)
    t = translator(exercise.lang)
    out = sys.stderr if args.json else sys.stdout
    paint = Paint(out)
    answering = exercise.writes == "answer"
    with open_store() as store:
        if not try_allowed(args, exercise, text, case, settings, config, judge, store, out, paint, t):
            return EXIT_BAD
        if not answering:
            print(paint.dim(f"── {case} ──"), file=out)

        def echo(piece: str) -> None:
            out.write(piece)
            out.flush()

        try:
            outcome = try_case(exercise, text, case, config=config, store=store, judge_config=judge,
                               on_delta=None if answering else echo)
        except (ModelError, CancelledError) as exc:
            print(f"\nlab: {exc}", file=sys.stderr)
            if args.json:  # the shape `lab run --json` gives a failed call, a try having no attempt to name
                print_json({"exercise": exercise.id, "case": case, "model": config.model if config else None, "error": str(exc),
                            "kind": getattr(exc, "kind", "cancelled")})
            return 130 if isinstance(exc, CancelledError) else EXIT_BAD
        from lab.practice.spending import spent

        now_spent = spent(store)
    if args.json:
        print_json({**outcome.to_dict(), "spent": {"session_usd": round(now_spent.session_usd, 6),
                                                   "today_usd": round(now_spent.today_usd, 6), "max_cost": settings.max_cost}})
        return EXIT_OK
    p = Paint(sys.stdout)
    if answering:
        print(outcome.output)
    print("\n")
    if outcome.finish_reason == "length":
        print(p.warn(t.gettext("The answer was cut off at the token limit: a criterion it fails may only lack room.")))
    print("\n".join(try_lines(outcome, p, t)))
    u = outcome.usage
    if outcome.cached:
        used = t.gettext("answered from the response cache: no call, $0.0000")
    elif answering and not (u.prompt_tokens or u.completion_tokens):
        used = t.gettext("graded as written: no model was called")
    else:
        used = t.gettext("{prompt} prompt + {completion} completion tokens").format(prompt=u.prompt_tokens, completion=u.completion_tokens) + \
            f" · ${u.cost_usd:.4f} · {outcome.duration_s:.1f} s"
    print(p.dim(used + " · " + t.gettext("`lab run` grades every case as an attempt")))
    print(p.dim(now_spent.summary(settings.max_cost, t)))
    return EXIT_OK


def try_allowed(args: argparse.Namespace, exercise: Any, text: str, case: str, settings: Any, config: Any, judge: Any,
                store: Any, out: Any, paint: Any, t: Any) -> bool:
    """Print the try's estimate; over the daily cap, ask as `lab run` does. False: send nothing."""
    from lab.cli.learning import confirm_over_cap
    from lab.practice.spending import check_cap, estimate_attempt, spent

    judge_config = judge or config
    estimate = estimate_attempt(exercise, text, model=config.model if config is not None else None, case=case,
                                judge_model=judge_config.model if judge_config is not None else None)
    if estimate.calls or estimate.judge_calls:
        print(paint.dim(estimate.summary(t)), file=out)
    check = check_cap(spent(store).today_usd, estimate.cost_usd, settings.max_cost)
    if check is None or not check.over or args.yes:
        return True
    return confirm_over_cap(check, t)


def cmd_compare(args: argparse.Namespace) -> int:
    from lab.errors import LabError
    from lab.practice.compare import compare_attempts, comparison_lines
    from lab.practice.learner import attempt_by_ref
    from lab.practice.report import Paint, output_width

    with open_store() as store:
        b_ref = args.b
        first = attempt_by_ref(store, args.a)
        if b_ref is None:  # one attempt: it against the one before it at the same exercise
            earlier = [r for r in store.attempts(first.exercise_id) if r.id < first.id]
            if not earlier:
                raise LabError(f"#{first.id} is the first attempt at {first.exercise_id}: give a second attempt to compare it with.")
            a, b = earlier[0], first
        else:
            a, b = first, attempt_by_ref(store, b_ref)
    if a.id == b.id:
        raise LabError(f"#{a.id} is the same attempt twice: give two different attempts.")
    comparison = compare_attempts(a, b)
    if args.json:
        print_json(comparison.to_dict())
        return EXIT_OK
    print("\n".join(comparison_lines(comparison, Paint(sys.stdout), output_width() or 100, exercise_language(args, a.exercise_id))))
    return EXIT_OK


def exercise_language(args: argparse.Namespace, exercise_id: str) -> Any:
    """The translator of an exercise's language, from the catalogue's index (English when it is gone)."""
    from lab.settings.i18n import translator

    entry = load_exercises(args).entry(exercise_id)
    return translator(entry.lang if entry is not None else "en")


def cmd_cache(args: argparse.Namespace) -> int:
    from lab.errors import LabError
    from lab.models.cache import open_cache

    cache = open_cache()
    if cache is None:
        from lab.models.cache import cache_file

        raise LabError(f"{cache_file()}: the response cache cannot be opened; check that its folder is writable (LAB_HOME).")
    if args.action == "clear":
        was = cache.clear()
        if args.json:
            print_json({"cleared": was.entries, "bytes": was.bytes, "path": str(was.path)})
        else:
            print(f"Forgot {was.entries} cached answer(s) ({megabytes(was.bytes)}); the next request of each asks the model again.")
        return EXIT_OK
    stats = cache.stats()
    if args.json:
        print_json({"entries": stats.entries, "bytes": stats.bytes, "max_bytes": stats.max_bytes, "path": str(stats.path)})
    else:
        print(f"{stats.entries} cached answer(s), {megabytes(stats.bytes)} of {megabytes(stats.max_bytes)} "
              f"(cache_max_mb) in {stats.path}. `lab cache clear` forgets them.")
    return EXIT_OK


def megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
