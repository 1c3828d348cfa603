"""Arenas in the terminal: `lab arena ID` (a learner plays their own latest attack against their own latest
defence, the rehearsal of the class round) and what `lab grade` prints and returns about a class's arenas."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from lab.cli.common import EXIT_OK

if TYPE_CHECKING:
    import argparse


def register(sub: Any, common: argparse.ArgumentParser, model: argparse.ArgumentParser) -> None:
    p = sub.add_parser("arena", parents=[common, model],
                       help="play your latest attack against your latest defence of an arena (the class round's rehearsal)")
    p.add_argument("id", metavar="ID", help="the arena's name (the `arena:` of its exercises), or the id of one of its exercises")
    p.add_argument("--json", action="store_true", help="print the exchange and its grade as JSON")
    p.add_argument("--yes", action="store_true", help="send even when it would pass your daily cap (LAB_MAX_COST)")
    p.set_defaults(handler=cmd_arena)


# ---------------------------------------------------------------- lab arena ID


def find_arena(catalog: Any, given: str) -> Any:
    """The arena named `given`, or the arena of the exercise of that id, with its exercises loaded; a LabError
    saying what to change when there is none or it cannot be played."""
    from lab.errors import LabError
    from lab.format.arenas import arena_problems, arenas
    from lab.format.catalog import UnloadableExercise
    from lab.format.listing import read_arena

    joined = {e.id: read_arena(e.path) for e in catalog.entries}
    name = given
    entry = catalog.entry(given)
    if entry is None and given not in joined.values():
        try:
            entry = catalog.find(given)  # a short id (`defend-battery`) naming one exercise
        except LabError:
            entry = None
    if entry is not None:
        name = joined.get(entry.id)
        if name is None:
            raise LabError(f"{entry.id} plays in no arena (its front matter has no `arena:`); `lab arena NAME` takes an arena's name "
                           "or the id of one of its exercises.")
    members = [e.id for e in catalog.entries if joined.get(e.id) == name]
    if not members:
        known = sorted({a for a in joined.values() if a})
        raise LabError(f"No arena or exercise '{given}'." + (f" The arenas are: {', '.join(known)}." if known else
                                                             " No exercise of yours plays in an arena."))
    loaded = []
    for exercise_id in members:
        try:
            loaded.append(catalog.open(exercise_id))
        except UnloadableExercise as exc:
            raise LabError(f"Arena '{name}' cannot be played: {exercise_id} has problems (`lab validate` lists them).\n"
                           + "\n".join(str(p) for p in exc.problems)) from None
    problems = arena_problems(loaded)
    if problems:
        raise LabError(f"Arena '{name}' cannot be played:\n" + "\n".join(str(p) for p in problems))
    return arenas(loaded)[name]


def latest_attempts(store: Any, exercise_ids: list[str]) -> dict[str, Any]:
    """Each exercise's newest attempt that holds a text (not one still running), by id."""
    found = {}
    for exercise_id in exercise_ids:
        record = next((a for a in store.attempts(exercise_id, limit=20) if a.status != "running"), None)
        if record is not None:
            found[exercise_id] = record
    return found


def cmd_arena(args: argparse.Namespace) -> int:
    from lab.cli.common import call_configs, load_exercises, open_store, print_json
    from lab.errors import LabError
    from lab.format.arenas import meet
    from lab.practice.arena import benign_standing, choose_attack, Spend, estimate_pair, rehearse
    from lab.practice.attempts import needs_judge
    from lab.practice.report import Paint
    from lab.practice.spending import check_cap, spent
    from lab.settings.i18n import translator

    arena = find_arena(load_exercises(args), args.id)
    defence = arena.defence
    t = translator(defence.lang)
    settings, config, judge = call_configs(args)
    out = sys.stderr if args.json else sys.stdout
    paint = Paint(out)
    with open_store() as store:
        latest = latest_attempts(store, [defence.id, *(a.id for a in arena.attacks)])
        mine = latest.get(defence.id)
        attack = choose_attack(arena, {k: v for k, v in latest.items() if k != defence.id})
        if mine is None:
            raise LabError(t.gettext("You have no attempt at this arena's defence yet: write one with `lab run {id}` "
                                     "(or in the lab), then rehearse.").format(id=defence.id))
        if attack is None:
            raise LabError(t.gettext("You have no attempt at an attack of this arena yet: write one with `lab run {id}` "
                                     "(or in the lab), then rehearse.").format(id=", ".join(a.id for a in arena.attacks)))
        theirs = latest[attack.id]
        pair = meet(defence, mine.texts or mine.prompt, attack, theirs.texts or theirs.prompt)  # PromptError: nothing is sent
        judge_config = (judge or config) if needs_judge(pair.exercise) else None
        estimate = estimate_pair(pair, config.model, judge_config.model if judge_config else None)
        print(paint.dim(estimate.summary(t)), file=out)
        check = check_cap(spent(store).today_usd, estimate.cost_usd, settings.max_cost)
        if check is not None and check.over and not args.yes:
            raise LabError(t.gettext("{reason}: nothing was sent; pass --yes to send anyway, or raise LAB_MAX_COST.").format(
                reason=check.message(t)))
        spend, done = Spend(), None
        try:
            done = rehearse(arena.name, defence, attack, pair, config=config, judge_config=judge, spend=spend)
        finally:  # a rehearsal stopped part-way was paid for all the same
            store.record_rehearsal(arena=arena.name, defence_attempt=mine.id, attack_attempt=theirs.id, model=config.model,
                                   held=done.result.get("held") if done is not None else None, prompt_tokens=spend.usage.prompt_tokens,
                                   completion_tokens=spend.usage.completion_tokens, cost_usd=spend.usage.cost_usd)
        after = spent(store).summary(settings.max_cost, t)
    pairing = defence.pairing
    benign = benign_standing(mine.result if mine.status == "graded" else None, pairing.benign if pairing else [], defence.rubric.pass_)
    if args.json:
        print_json({"arena": arena.name, "defence": {"exercise": defence.id, "attempt": mine.id},
                    "attack": {"exercise": attack.id, "attempt": theirs.id}, "held": done.result.get("held"),
                    "landed": done.pair.landed, "benign": {"score": None if benign.score is None else round(benign.score, 4),
                                                          "pass_mark": benign.pass_mark, "passed": benign.passed,
                                                          "failing": list(benign.failing)},
                    "result": done.result, "usage": {"prompt_tokens": done.usage.prompt_tokens,
                                                     "completion_tokens": done.usage.completion_tokens,
                                                     "cost_usd": round(done.usage.cost_usd, 6)}})
        print(paint.dim(after), file=out)
        return EXIT_OK
    print_rehearsal(done, mine, theirs, benign, Paint(sys.stdout), t)
    print(Paint(sys.stdout).dim(after))
    return EXIT_OK


def print_rehearsal(done: Any, mine: Any, theirs: Any, benign: Any, paint: Any, t: Any) -> None:
    from lab.format.conversation import Transcript
    from lab.practice.arena import NOT_LANDED
    from lab.practice.report import PREFILL_LEGEND, conversation_lines, grade_lines

    print(paint.bold(t.gettext("Arena '{arena}': your attack ({attack}, attempt #{attack_id}) against your defence ({defence}, attempt #{defence_id})")
                     .format(arena=done.arena, attack=done.attack.id, attack_id=theirs.id, defence=done.defence.id, defence_id=mine.id)))
    if benign.score is None:
        print(paint.warn(t.gettext("Your latest defence has no graded result on its benign cases: send it once (`lab run {id}`) to see "
                                   "whether it still answers ordinary requests; in the class round, a defence that does not scores nothing.")
                         .format(id=done.defence.id)))
    elif benign.passed:
        print(paint.good(t.gettext("Your defence passes its own benign cases ({score}; pass mark {mark}): in the class round it meets "
                                   "every other learner's attack.").format(score=f"{benign.score:.2f}", mark=f"{benign.pass_mark:.2f}")))
    else:
        print(paint.bad(t.gettext("Your defence fails its own benign cases ({score}; pass mark {mark}; failing on {cases}): in the class "
                                  "round it would score nothing, however well it holds.").format(
            score=f"{benign.score:.2f}", mark=f"{benign.pass_mark:.2f}", cases=", ".join(benign.failing) or "—")))
    result = done.result
    conversations = (result.get("cases") or [{}])[0].get("conversations") or []
    for number, messages in enumerate(conversations, 1):
        if len(conversations) > 1:
            print(paint.dim(t.gettext("Sample {n}").format(n=number)))
        print("\n".join(conversation_lines(Transcript.from_json(messages).messages, paint, t)))
        if any(m.get("prefill") for m in messages):
            print(paint.dim(t.gettext(PREFILL_LEGEND)))
    print()
    if not result.get("landed", True):
        print(paint.bad(t.gettext(NOT_LANDED)))
    else:
        print("\n".join(grade_lines(result, paint, t)))
    if result.get("held"):
        print(paint.good(t.gettext("HELD: your defence kept your own attack out.")))
    else:
        print(paint.bad(t.gettext("BROKEN: your attack got through your own defence.")))
    u = done.usage
    tokens = t.gettext("{prompt} prompt + {completion} completion tokens").format(prompt=u.prompt_tokens, completion=u.completion_tokens)
    print(paint.dim(f"{tokens} · ${u.cost_usd:.4f} · {done.duration_s:.1f} s"))


# ---------------------------------------------------------------- lab grade's arenas


class ArenaProgress:
    """`lab grade`'s progress line while the arenas' pairs are played."""

    def __init__(self, stream: Any):
        from lab.cli.trainer import ProgressLine

        class Line(ProgressLine):
            @staticmethod
            def text(p: Any, bar: bool) -> str:
                return ProgressLine.text(p, bar).replace(" graded", " arena pairs played", 1)

        self.line = Line(stream)

    def __call__(self, p: Any, final: bool = False) -> None:
        self.line(p, final)


def play_arenas_for(store: Any, exercises: dict[str, Any], outcome: Any, args: Any, settings: Any, config: Any, judge: Any) -> Any:
    """Play the arenas of the exercises just graded, within what is left of --max-cost."""
    from lab.classroom.arena import play_arenas

    spent = outcome.run_usage.cost_usd
    left = None if args.max_cost is None else max(0.0, args.max_cost - spent)
    progress = ArenaProgress(sys.stderr)
    run = play_arenas(store, exercises, config=config, judge_config=judge, concurrency=args.concurrency or settings.concurrency,
                      rpm=args.rpm, max_cost=left, max_pairs=args.arena_max_pairs, stopped=outcome.capped, paced=outcome.calls > 0,
                      on_progress=progress)
    if run.calls or run.capped:
        from lab.classroom.grading import Progress

        final = Progress(total=run.played + len(run.unfinished), done=run.played, cost_usd=run.usage.cost_usd)
        progress(final, final=True)
    for problem in run.problems:
        print(f"lab: {problem}", file=sys.stderr)
    return run


def add_arena_json(data: dict[str, Any], run: Any) -> dict[str, Any]:
    """`lab grade --json` with `arenas` (the contract's shape) and what this run did in them."""
    data["arenas"] = [s.as_json() for s in run.standings]
    if isinstance(data.get("run"), dict):
        data["run"]["arena"] = {"calls": run.calls, "cost_usd": round(run.usage.cost_usd, 6), "played": run.played,
                                "capped": run.capped, "left": len(run.left), "unfinished": len(run.unfinished)}
    return data


def print_arenas(run: Any, args: Any, limit: int = 20) -> None:
    """Each arena's leaderboards in a few lines, then what counts nothing yet, with why: one line for a side out of
    the arena (with how many pairs it leaves out), one per pair otherwise."""
    from lab.practice.report import money

    if not run.standings:
        return
    for s in run.standings:
        played = sum(1 for p in s.pairs if p.held is not None)
        print(f"Arena {s.arena} ({s.defence_exercise} against {', '.join(s.attack_exercises)}): {played} of {len(s.pairs)} pairs played")
        defenders = [f"{d.learner} held {d.won}/{d.played}" if not d.out else f"{d.learner} out" for d in s.defenders]
        attackers = [f"{a.learner} broke {a.won}/{a.played}" if not a.out else f"{a.learner} out" for a in s.attackers]
        print(f"  defences: {', '.join(defenders) or '—'}")
        print(f"  attacks:  {', '.join(attackers) or '—'}")
        if s.lesson:
            best = s.lesson[0]
            print(f"  the attack that broke the most defences: {best.learner}'s, {best.won} of {best.played} ({best.exercise})")
    u = run.usage
    print(f"{run.played} arena pair(s) played this run · {run.calls} model call(s) · {money(u.cost_usd)}")
    if run.capped:
        print(f"The cost cap stopped the arenas: {sum(1 for _, p in run.unfinished if p.state == 'pending')} pair(s) left to play; "
              "run the same command with a higher --max-cost to go on.", file=sys.stderr)
    lines = []
    for s in run.standings:
        out_sides = {(d.learner, "defence"): d.out for d in s.defenders if d.out} | {(a.learner, "attack"): a.out for a in s.attackers if a.out}
        counted: dict[tuple[str, str], int] = {}
        for p in s.left():
            side = (p.defender, "defence") if (p.defender, "defence") in out_sides else (p.attacker, "attack") \
                if (p.attacker, "attack") in out_sides else None
            if p.state == "out" and side is not None:
                counted[side] = counted.get(side, 0) + 1
            else:
                lines.append(f"  {s.arena}: {p.attacker} → {p.defender}: {p.why or p.state}")
        for (learner, what), n in counted.items():
            lines.append(f"  {s.arena}: {learner}'s {what} ({n} pair(s) left out): {out_sides[(learner, what)]}")
    if lines:
        print(f"Left out of the arenas or not played yet ({len(run.left)} pair(s)):", file=sys.stderr)
        print("\n".join(lines[:limit]), file=sys.stderr)
        if len(lines) > limit:
            print(f"  … and {len(lines) - limit} more (`--json` lists every pair)", file=sys.stderr)
