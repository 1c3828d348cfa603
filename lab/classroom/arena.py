"""A class's arenas in `lab grade`: after every submission is graded on its own, each learner's attack of an
arena meets every other learner's defence of it, one model call per pair and sample (per message for an
attack that writes a conversation), graded by the defend exercise's rubric (lab/practice/arena.py).

Who plays: a defender is a learner with a graded defence that passes its own benign cases (a defence
that fails them scores nothing and is not attacked); an attacker is a learner with a graded attack, the
one they handed in last when they did several attack exercises of the arena. Every ordered pair of two
different learners is played once, in rounds (round k pairs each learner's attack with the defence of
the learner k places after them in name order), so `--arena-max-pairs` leaves every learner about as
many pairs as any other. Pairs already played are kept and count towards that cap.

Everything lands in cohort.db (the `arena_*` tables of its arenas migration) as grading does: each answer is committed
before it is used, a pair already graded for the same two texts is never played again, a pair whose
attack or defence changed starts again, and a run killed at any moment resumes without a second call.
Scores are read back from cohort.db (`standings`), with the trainer's reviews applied, by the report,
`lab grade --json` and `lab review`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from lab.classroom.cohort import CohortStore
from lab.classroom.grading import Budget, CapReached, Progress, RecordedJudge
from lab.classroom.overrides import apply_to_result
from lab.classroom.records import RECORDED_CALL_COLUMNS, RecordedCall, Review, task_key, tool_calls_json
from lab.errors import LabError, ModelError, PromptError
from lab.format.arenas import ArenaSet, Pair, arenas, meet, mismatch, text_length
from lab.format.conversation import Dialogue, Transcript
from lab.format.tools import ToolCall
from lab.models import llm
from lab.practice.arena import Benign, benign_standing, grade_pair, pair_result, unlanded_result
from lab.practice.attempts import Usage, call_config_for, needs_judge
from lab.settings.sqlite import now

USABLE = ("graded", "ungraded")  # a submission's own grading that went through (an ungraded judge verdict can be reviewed)


# ---------------------------------------------------------------- what cohort.db holds


@dataclass(frozen=True)
class Member:
    arena: str
    exercise: str
    role: str
    level: int
    pairing: dict[str, Any] | None  # a defence's: case, into, benign, criteria, pass_mark


@dataclass(frozen=True)
class Side:
    """A learner's text on one side of an arena: their graded submission of one of its exercises."""

    learner: str
    exercise: str
    result_id: int
    task: str
    status: str
    texts: str | dict[str, Any]
    created: str | None
    level: int
    result: dict[str, Any] | None  # the trainer's overrides applied
    error: str | None
    out: str | None = None  # why this side plays no pair (None: it plays)

    @property
    def length(self) -> int:
        return text_length(self.texts)

    @property
    def text(self) -> str:
        """Every text of the side as one string (the report shows it)."""
        if isinstance(self.texts, str):
            return self.texts
        return "\n\n".join("\n---\n".join(v) if isinstance(v, list) else str(v) for v in self.texts.values())


@dataclass(frozen=True)
class PairRow:
    id: int
    arena: str
    attacker: str
    defender: str
    attack_exercise: str
    defence_exercise: str
    task: str
    status: str
    held: bool | None  # as graded (None: undecided); `decided` has the trainer's reviews applied
    score: float | None
    error: str | None
    result_text: str | None  # the grade as JSON, parsed when asked (`result`): a class's standings need only `held`
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    duration_s: float | None
    played_at: str | None
    overridden: tuple[str, ...] = ()
    reviewed: dict[str, Any] | None = None  # the grade with the trainer's reviews applied, when any changed it

    @functools.cached_property
    def result(self) -> dict[str, Any] | None:
        if self.reviewed is not None:
            return self.reviewed
        return json.loads(self.result_text) if self.result_text else None

    @property
    def decided(self) -> bool | None:
        """held/broken as the grade (and the trainer's review) left it; None while undecided."""
        if self.status not in USABLE:
            return None
        if self.reviewed is not None:
            return bool(self.reviewed["passed"]) if self.reviewed.get("decided", True) else None
        return self.held


_PAIR_COLUMNS = ("id, arena, attacker, defender, attack_exercise, defence_exercise, task, status, held, score, error, result, "
                 "prompt_tokens, completion_tokens, cost_usd, duration_s, played_at")


def _pair(row: Sequence[Any]) -> PairRow:
    values = list(row)
    values[8] = None if values[8] is None else bool(values[8])
    return PairRow(*values)


class ArenaStore:
    """The arena tables of a cohort's `cohort.db`, over the cohort store's connection and lock."""

    def __init__(self, store: CohortStore):
        self.store = store
        self._db = store._db

    def _tx(self) -> Any:
        return self.store._tx()

    def _dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor]

    # ------------------------------------------------------------ members
    def record_members(self, found: Iterable[ArenaSet]) -> None:
        """The exercises of the arenas being played, as the trainer's catalogue has them now."""
        rows = []
        names = []
        for arena in found:
            names.append(arena.name)
            for exercise in (*arena.defences, *arena.attacks):
                pairing = None
                if exercise.pairing is not None:
                    pairing = {**exercise.pairing.model_dump(), "pass_mark": exercise.rubric.pass_}
                rows.append((arena.name, exercise.id, exercise.role, exercise.level, json.dumps(pairing) if pairing else None))
        with self._tx():
            self._db.executemany("DELETE FROM arena_members WHERE arena=?", [(n,) for n in names])
            self._db.executemany("INSERT OR REPLACE INTO arena_members VALUES (?, ?, ?, ?, ?)", rows)

    def members(self) -> dict[str, list[Member]]:
        found: dict[str, list[Member]] = {}
        for row in self._db.execute("SELECT arena, exercise, role, level, pairing FROM arena_members ORDER BY arena, role DESC, exercise"):
            found.setdefault(row[0], []).append(Member(row[0], row[1], row[2], int(row[3]), json.loads(row[4]) if row[4] else None))
        return found

    # ------------------------------------------------------------ the learners' sides
    def rows_of(self, exercises: Sequence[str]) -> list[dict[str, Any]]:
        """The results of these exercises with their submission's date, the trainer's reviews applied."""
        if not exercises:
            return []
        marks = ", ".join("?" * len(exercises))
        rows = self._dicts(
            "SELECT r.id, r.learner, r.exercise, r.task, r.prompt, r.texts, r.status, r.error, r.result, s.created FROM results r "
            f"LEFT JOIN submissions s ON s.key = r.submission WHERE r.exercise IN ({marks}) ORDER BY r.learner, r.exercise", tuple(exercises))
        ids = [r["id"] for r in rows]
        reviews: dict[int, list[Review]] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for data in self._dicts(f"SELECT * FROM reviews WHERE decision != 'skip' AND result_id IN ({', '.join('?' * len(part))})", part):
                review = Review.from_row(data)  # type: ignore[arg-type]
                reviews.setdefault(review.result_id, []).append(review)
        for row in rows:
            row["texts"] = json.loads(row["texts"]) if row["texts"] else None
            row["result"] = json.loads(row["result"]) if row["result"] else None
            if row["result"] is not None and row["id"] in reviews and row["status"] in USABLE:
                row["result"], _ = apply_to_result(row["result"], reviews[row["id"]])
        return rows

    # ------------------------------------------------------------ pairs
    def pairs(self, arena: str) -> dict[tuple[str, str], PairRow]:
        """The arena's pairs by (attacker, defender), the trainer's reviews applied."""
        rows = [_pair(r) for r in self._db.execute(f"SELECT {_PAIR_COLUMNS} FROM arena_pairs WHERE arena=?", (arena,))]
        reviews = self.reviews_by_pair([r.id for r in rows if r.result_text is not None])
        out = {}
        for row in rows:
            if row.id in reviews and row.result is not None and row.status in USABLE:
                result, changed = apply_to_result(row.result, reviews[row.id])
                if changed:
                    result["held"] = result["passed"]
                    ungraded = any(c.get("ungraded") for c in result.get("criteria", []))
                    row = replace(row, reviewed=result, overridden=tuple(changed), status="ungraded" if ungraded else "graded")
            out[(row.attacker, row.defender)] = row
        return out

    def states(self, arena: str) -> dict[tuple[str, str], tuple[int, str, str]]:
        """(id, task, status) of each pair of the arena, by (attacker, defender): what planning a run needs."""
        return {(r[1], r[2]): (r[0], r[3], r[4]) for r in
                self._db.execute("SELECT id, attacker, defender, task, status FROM arena_pairs WHERE arena=?", (arena,))}

    def all_pairs(self) -> list[PairRow]:
        return [_pair(r) for r in self._db.execute(f"SELECT {_PAIR_COLUMNS} FROM arena_pairs ORDER BY arena, attacker, defender")]

    def prepare(self, arena: str, wanted: Sequence[tuple[Side, Side, str, str | None]]) -> dict[tuple[str, str], tuple[int, str, str]]:
        """One row per (attacker, defender) wanted this run: (attack, defence, task, why it waits or None). A row
        whose task changed (either text, either exercise, the model) starts again: its calls and reviews go."""
        existing = {(r[1], r[2]): (r[0], r[3]) for r in
                    self._db.execute("SELECT id, attacker, defender, task FROM arena_pairs WHERE arena=?", (arena,))}
        new, changed, same = [], [], []
        for attack, defence, task, why in wanted:
            found = existing.get((attack.learner, defence.learner))
            if found is None:
                new.append((arena, attack.learner, defence.learner, attack.exercise, defence.exercise, task, why))
            elif found[1] != task:
                changed.append((attack.exercise, defence.exercise, task, why, found[0]))
            else:
                same.append((why, found[0]))
        with self._tx():
            self._db.executemany("INSERT INTO arena_pairs (arena, attacker, defender, attack_exercise, defence_exercise, task, error)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?)", new)
            self._db.executemany("DELETE FROM arena_calls WHERE pair_id=?", [(c[-1],) for c in changed])
            self._db.executemany("DELETE FROM arena_reviews WHERE pair_id=?", [(c[-1],) for c in changed])  # they reviewed the old exchange
            self._db.executemany(
                "UPDATE arena_pairs SET attack_exercise=?, defence_exercise=?, task=?, status='pending', held=NULL, score=NULL, error=?,"
                " result=NULL, prompt_tokens=0, completion_tokens=0, cost_usd=0, duration_s=NULL, played_at=NULL WHERE id=?", changed)
            self._db.executemany("UPDATE arena_pairs SET error=? WHERE id=? AND status='pending'", same)
        return self.states(arena)

    def wait(self, pair_id: int, why: str) -> None:
        with self._tx():
            self._db.execute("UPDATE arena_pairs SET error=? WHERE id=? AND status='pending'", (why, pair_id))

    def calls(self, pair_id: int) -> dict[str, RecordedCall]:
        rows = self._db.execute(f"SELECT call, {RECORDED_CALL_COLUMNS} FROM arena_calls WHERE pair_id=?", (pair_id,))
        return {r[0]: RecordedCall.from_row(r[1:]) for r in rows}

    def record_call(self, pair_id: int, call: str, kind: str, completion: Any) -> None:
        """Commit one answer at once: it is never asked for again."""
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO arena_calls (pair_id, call, kind, text, prompt_tokens, completion_tokens, cost_usd,"
                             " duration_s, created, tool_calls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (pair_id, call, kind, completion.text, completion.prompt_tokens, completion.completion_tokens,
                              completion.cost_usd, completion.duration_s, now(), tool_calls_json(completion.tool_calls)))

    def finish(self, pair_id: int, *, status: str, held: bool | None = None, score: float | None = None,
               result: dict[str, Any] | None = None, error: str | None = None, duration_s: float | None = None) -> None:
        with self._tx():
            usage = self._db.execute("SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0)"
                                     " FROM arena_calls WHERE pair_id=?", (pair_id,)).fetchone()
            self._db.execute(
                "UPDATE arena_pairs SET status=?, held=?, score=?, result=?, error=?, prompt_tokens=?, completion_tokens=?, cost_usd=?,"
                " duration_s=?, played_at=? WHERE id=?",
                (status, None if held is None else int(held), score, json.dumps(result, ensure_ascii=False) if result is not None else None,
                 error, usage[0], usage[1], usage[2], duration_s, now(), pair_id))

    def usage(self) -> dict[str, Any]:
        row = self._db.execute("SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0), COUNT(*)"
                               " FROM arena_calls").fetchone()
        return {"prompt_tokens": int(row[0]), "completion_tokens": int(row[1]), "cost_usd": round(float(row[2]), 6), "calls": int(row[3])}

    # ------------------------------------------------------------ reviews
    def record_review(self, pair_id: int, criterion: str, case: str, sample: int, **decision: Any) -> Review:
        """A trainer's decision on a judged verdict of a pair, as `CohortStore.record_review` keeps a grading's."""
        return self.store.record_review(pair_id, criterion, case, sample, table="arena_reviews", **decision)

    def reviews(self) -> list[Review]:
        """Every review of an arena pair; `result_id` holds the pair's id."""
        rows = self._dicts("SELECT pair_id AS result_id, criterion, case_name, sample, scale, judge_passed, judge_score, decision, "
                           "trainer_passed, trainer_score, note, reviewer, at FROM arena_reviews ORDER BY pair_id, criterion, case_name, sample")
        return [Review.from_row(r) for r in rows]  # type: ignore[arg-type]

    def reviews_by_pair(self, ids: Sequence[int]) -> dict[int, list[Review]]:
        found: dict[int, list[Review]] = {}
        wanted = set(ids)
        if not wanted:
            return found
        for review in self.reviews():
            if review.decision != "skip" and review.result_id in wanted:
                found.setdefault(review.result_id, []).append(review)
        return found


# ---------------------------------------------------------------- who plays whom


def pair_task(attack: Side, defence: Side) -> str:
    """What a pair's grade depends on: both submissions' tasks (their texts, exercise versions, the model)."""
    return task_key("arena-pair/1", attack.exercise, attack.task, defence.exercise, defence.task)


def rounds(attackers: Iterable[str], defenders: Iterable[str]) -> list[tuple[str, str]]:
    """Every (attacker, defender) of two different learners, in rounds: in round k, the learner at place i in
    name order attacks the defence of the learner at place i + k. A prefix of this order leaves each
    learner about as many pairs as any other."""
    a, d = set(attackers), set(defenders)
    names = sorted(a | d)
    n = len(names)
    return [(names[i], names[(i + k) % n]) for k in range(1, n) for i in range(n)
            if names[i] in a and names[(i + k) % n] in d]


@dataclass(frozen=True)
class Sides:
    arena: str
    defence_exercise: str
    attack_exercises: tuple[str, ...]
    defenders: dict[str, Side]
    attackers: dict[str, Side]


def sides(astore: ArenaStore, arena: str, members: Sequence[Member]) -> Sides | None:
    """The arena's defenders and attackers as cohort.db has them now (None: no defence among its members)."""
    defences = [m for m in members if m.role == "defend" and m.pairing]
    if len(defences) != 1:
        return None
    defence = defences[0]
    attacks = {m.exercise: m for m in members if m.role == "attack"}
    pairing = defence.pairing or {}
    defenders: dict[str, Side] = {}
    attackers: dict[str, list[Side]] = {}
    for row in astore.rows_of([defence.exercise, *attacks]):
        texts = row["texts"] or row["prompt"]
        is_defence = row["exercise"] == defence.exercise
        level = defence.level if is_defence else attacks[row["exercise"]].level
        side = Side(row["learner"], row["exercise"], row["id"], row["task"], row["status"], texts, row["created"], level,
                    row["result"], row["error"])
        if is_defence:
            defenders[side.learner] = _defender(side, pairing)
        else:
            attackers.setdefault(side.learner, []).append(side)
    chosen = {learner: _attacker(options) for learner, options in attackers.items()}
    return Sides(arena, defence.exercise, tuple(sorted(attacks)), defenders, chosen)


def _waiting(side: Side, what: str) -> Side:
    if side.status == "pending":
        return replace(side, out=f"the {what} is not graded on its own yet (run `lab grade` again)")
    return replace(side, out=f"the {what}'s own grading failed: {side.error or side.status}")


def _defender(side: Side, pairing: Mapping[str, Any]) -> Side:
    if side.status not in USABLE:
        return _waiting(side, "defence")
    standing: Benign = benign_standing(side.result, pairing.get("benign") or [], float(pairing.get("pass_mark", 1.0)))
    if not standing.passed:
        return replace(side, out=standing.why())
    return side


def _attacker(options: list[Side]) -> Side:
    """A learner's attack: the one handed in last among those graded (else among all), then the higher level."""
    usable = [s for s in options if s.status in USABLE] or options
    best = max(usable, key=lambda s: (s.created or "", s.level, s.exercise))
    return best if best.status in USABLE else _waiting(best, "attack")


# ---------------------------------------------------------------- standings (read back from cohort.db)


@dataclass(frozen=True)
class PairView:
    attacker: str
    defender: str
    attack_exercise: str
    state: str  # held, broken, pending, failed, ungraded, out
    why: str | None
    row: PairRow | None

    @property
    def held(self) -> bool | None:
        return True if self.state == "held" else False if self.state == "broken" else None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"attacker": self.attacker, "defender": self.defender, "held": self.held,
                                "status": "played" if self.state in ("held", "broken") else self.state,
                                "attack_exercise": self.attack_exercise}
        if self.why:
            data["why"] = self.why
        if self.row is not None and self.row.overridden:
            data["overridden"] = list(self.row.overridden)
        return data


@dataclass(frozen=True)
class Score:
    learner: str
    exercise: str
    won: int  # held (a defender) or broke (an attacker)
    played: int  # faced / tried
    length: int
    text: str
    out: str | None

    @property
    def share(self) -> float | None:
        return self.won / self.played if self.played else None


@dataclass(frozen=True)
class Standing:
    arena: str
    defence_exercise: str
    attack_exercises: tuple[str, ...]
    pairs: list[PairView]
    defenders: list[Score]  # ranked: share held, then the shorter text; those out of the arena last
    attackers: list[Score]  # ranked: share broken, then the shorter text

    @property
    def lesson(self) -> list[Score]:
        """The attacks that broke the most defences (the class's lesson): at most three, each breaking one at least."""
        return sorted([a for a in self.attackers if a.won], key=lambda a: (-a.won, a.length, a.learner))[:3]

    def left(self) -> list[PairView]:
        return [p for p in self.pairs if p.held is None]

    def as_json(self) -> dict[str, Any]:
        def side(s: Score, won: str, played: str) -> dict[str, Any]:
            data: dict[str, Any] = {"learner": s.learner, won: s.won, played: s.played,
                                    "share": None if s.share is None else round(s.share, 4), "exercise": s.exercise, "length": s.length}
            if s.out:
                data["out"] = s.out
            return data

        return {"arena": self.arena, "defence_exercise": self.defence_exercise, "attack_exercises": list(self.attack_exercises),
                "pairs": [p.as_json() for p in self.pairs],
                "defenders": [side(s, "held", "faced") for s in self.defenders],
                "attackers": [side(s, "broke", "tried") for s in self.attackers]}


def _view(attack: Side, defence: Side, row: PairRow | None) -> PairView:
    if defence.out:
        return PairView(attack.learner, defence.learner, attack.exercise, "out", defence.out, None)
    if attack.out:
        return PairView(attack.learner, defence.learner, attack.exercise, "out", attack.out, None)
    if row is None or row.task != pair_task(attack, defence):
        return PairView(attack.learner, defence.learner, attack.exercise, "pending", "not played yet (run `lab grade` again)", None)
    verdict = row.decided
    if verdict is not None:
        return PairView(attack.learner, defence.learner, attack.exercise, "held" if verdict else "broken", row.error, row)
    if row.status == "ungraded":
        return PairView(attack.learner, defence.learner, attack.exercise, "ungraded",
                        row.error or "the judge gave no usable verdict: review it with `lab review`", row)
    if row.status == "failed":
        return PairView(attack.learner, defence.learner, attack.exercise, "failed", row.error, row)
    return PairView(attack.learner, defence.learner, attack.exercise, "pending", row.error or "not played yet (run `lab grade` again)", row)


def standing_of(astore: ArenaStore, found: Sides) -> Standing:
    stored = astore.pairs(found.arena)
    views = [_view(found.attackers[a], found.defenders[d], stored.get((a, d)))
             for a, d in rounds(found.attackers, found.defenders)]
    views.sort(key=lambda v: (v.attacker, v.defender))
    held: dict[str, list[int]] = {}  # defender -> [held, faced]
    broke: dict[str, list[int]] = {}  # attacker -> [broke, tried]
    for v in views:
        if v.held is None:
            continue
        faced, tried = held.setdefault(v.defender, [0, 0]), broke.setdefault(v.attacker, [0, 0])
        faced[0] += v.held
        faced[1] += 1
        tried[0] += not v.held
        tried[1] += 1
    defenders = [Score(learner, side.exercise, *held.get(learner, [0, 0]), side.length, side.text, side.out)
                 for learner, side in found.defenders.items()]
    attackers = [Score(learner, side.exercise, *broke.get(learner, [0, 0]), side.length, side.text, side.out)
                 for learner, side in found.attackers.items()]

    def rank(s: Score) -> tuple[Any, ...]:
        return (s.out is not None, s.share is None, -(s.share or 0.0), s.length, s.learner)

    return Standing(found.arena, found.defence_exercise, found.attack_exercises, views, sorted(defenders, key=rank), sorted(attackers, key=rank))


def cohort_usage(store: CohortStore) -> dict[str, Any]:
    """The cohort's tokens, cost and calls, the arenas' pairs counted in (they are paid for too)."""
    usage, arenas = store.usage(), ArenaStore(store).usage()
    return {k: round(usage[k] + arenas[k], 6) if k == "cost_usd" else usage[k] + arenas[k] for k in usage}


def standings(store: CohortStore) -> list[Standing]:
    """Every arena played in this cohort, read from cohort.db with the trainer's reviews applied."""
    astore = ArenaStore(store)
    out = []
    for arena, members in astore.members().items():
        found = sides(astore, arena, members)
        if found is not None and (found.defenders or found.attackers):
            out.append(standing_of(astore, found))
    return out


def arenas_json(store: CohortStore) -> list[dict[str, Any]]:
    """`lab grade --json`'s `arenas`."""
    return [s.as_json() for s in standings(store)]


# ---------------------------------------------------------------- playing the pairs


@dataclass
class ArenaRun:
    """What one `lab grade` run did in its arenas."""

    calls: int = 0
    usage: Usage = field(default_factory=Usage)
    capped: bool = False
    played: int = 0
    problems: list[str] = field(default_factory=list)  # an attack exercise that cannot meet its arena's defence, by id
    standings: list[Standing] = field(default_factory=list)

    @property
    def left(self) -> list[tuple[str, PairView]]:
        """(arena, pair) of every pair that counts nothing yet, with why."""
        return [(s.arena, p) for s in self.standings for p in s.left()]

    @property
    def unfinished(self) -> list[tuple[str, PairView]]:
        """The pairs left for a reason a later run can mend (the cost cap, a model error, a judge); not those a rule
        leaves out (a defence failing its benign cases, `--arena-max-pairs`)."""
        return [(a, p) for a, p in self.left if p.state in ("failed", "ungraded") or (p.state == "pending" and _capped(p.why))]


NOT_PLACED = "the defence never placed the attacker's text, so the attack never reached the model"
CAP_REASON = "not reached: the cost cap stopped the run (run again with a higher --max-cost)"


def _capped(why: str | None) -> bool:
    return why == CAP_REASON


def playable(exercises: Mapping[str, Any]) -> tuple[list[ArenaSet], list[str]]:
    """The arenas these graded exercises make (one defence, attacks that can meet it), and the attacks left out."""
    found = []
    problems = []
    for arena in arenas(exercises.values()).values():
        defence = arena.defence
        if defence is None or defence.pairing is None or not arena.attacks:
            continue
        fit = []
        for attack in arena.attacks:
            why = mismatch(defence, attack)
            if why is None:
                fit.append(attack)
                continue
            line = attack.lines.get("writes")
            problems.append(f"{attack.path}{f':{line}' if line else ''}: {why[0]}; its attacks play no pair (fix: {why[1]})")
        if fit:
            found.append(replace(arena, attacks=tuple(fit)))
    return found, problems


def play_arenas(
    store: CohortStore,
    exercises: Mapping[str, Any],
    *,
    config: llm.CallConfig,
    judge_config: llm.CallConfig | None = None,
    concurrency: int = 4,
    rpm: int | None = None,
    max_cost: float | None = None,
    max_pairs: int | None = None,
    stopped: bool = False,
    paced: bool = False,
    on_progress: Callable[[Any], None] | None = None,
) -> ArenaRun:
    """Play every pair of the arenas the graded `exercises` make that is not played yet. `max_cost` is what is
    left of the run's cap; `stopped`: the grading already met the cap (no pair is played); `paced`: calls were
    made just before, so with `rpm` the first pair waits its turn."""
    if max_pairs is not None and max_pairs < 0:
        raise LabError("--arena-max-pairs must be 0 or more.")
    run = ArenaRun()
    found, run.problems = playable(exercises)
    if not found:
        return run
    astore = ArenaStore(store)
    astore.record_members(found)
    members = astore.members()
    todo: list[tuple[int, Pair | str]] = []
    for arena in found:
        current = sides(astore, arena.name, members.get(arena.name, []))
        if current is None:
            continue
        schedule = [(current.attackers[a], current.defenders[d]) for a, d in rounds(current.attackers, current.defenders)]
        schedule = [(a, d) for a, d in schedule if not a.out and not d.out]
        stored = astore.states(arena.name)
        kept = {(a.learner, d.learner) for a, d in schedule if (row := stored.get((a.learner, d.learner))) is not None
                and row[1] == pair_task(a, d) and row[2] in USABLE}
        room = None if max_pairs is None else max(0, max_pairs - len(kept))
        wanted: list[tuple[Side, Side, str, str | None]] = []
        taken = 0
        for a, d in schedule:
            if (a.learner, d.learner) in kept:
                continue
            within = room is None or taken < room
            taken += within
            why = None if within else f"left out: beyond --arena-max-pairs {max_pairs} (this arena holds {max_pairs} pairs)"
            wanted.append((a, d, pair_task(a, d), why))
        rows = astore.prepare(arena.name, wanted)
        defence = arena.defence
        assert defence is not None
        by_id = {x.id: x for x in arena.attacks}
        for a, d, _, why in wanted:
            pair_id, _, status = rows[(a.learner, d.learner)]
            if why is not None or status == "graded":
                continue
            if stopped:
                astore.wait(pair_id, CAP_REASON)
                run.capped = True
                continue
            try:
                todo.append((pair_id, meet(defence, d.texts, by_id[a.exercise], a.texts)))
            except PromptError as exc:
                todo.append((pair_id, str(exc)))
    progress = Progress(total=len(todo))
    if todo:
        asyncio.run(_play(astore, todo, run, config, judge_config, concurrency, rpm, max_cost, paced, progress, on_progress))
    if run.capped:
        for pair_id, _ in todo:
            astore.wait(pair_id, CAP_REASON)  # those still pending: the cap stopped them
    run.standings = [s for s in standings(store) if s.arena in {a.name for a in found}]
    return run


class _Player:
    def __init__(self, astore: ArenaStore, caller: llm.AsyncCaller, budget: Any, run: ArenaRun, progress: Any):
        self.astore, self.caller, self.budget, self.run, self.progress = astore, caller, budget, run, progress
        self.loop = asyncio.get_running_loop()

    async def call(self, pair_id: int, call: str, kind: str, messages: list[dict[str, Any]], config: llm.CallConfig,
                   tools: list[dict[str, Any]] | None = None) -> llm.Completion:
        # with `lab grade --cache`, each answer's call (its case, sample and round) is cached apart, as grading's are
        completion = await self.budget.complete(self.caller, messages, config, tools, cache_slot=call if kind == "answer" else 0)
        self.astore.record_call(pair_id, call, kind, completion)  # committed before the answer is used
        made = 0 if completion.cached else 1  # an answer from the response cache is no call
        self.run.calls += made
        self.run.usage = self.run.usage + Usage(completion.prompt_tokens, completion.completion_tokens, completion.cost_usd)
        self.progress.calls += made
        self.progress.cost_usd += completion.cost_usd
        return completion

    async def play(self, pair_id: int, pair: Pair | str, config: llm.CallConfig, judge_config: llm.CallConfig | None) -> str:
        started = time.monotonic()
        if isinstance(pair, str):
            self.astore.finish(pair_id, status="failed", error=pair)
            return "failed"
        if not pair.landed:
            result = unlanded_result(pair, config.model)
            self.astore.finish(pair_id, status="graded", held=False, score=0.0, result=result, error=NOT_PLACED, duration_s=0.0)
            return "graded"
        recorded = self.astore.calls(pair_id)
        call_config = call_config_for(pair.exercise, config)
        samples = pair.exercise.rubric.samples
        transcripts: list[Transcript | None] = [None] * samples

        async def answer(sample: int) -> None:
            dialogue = Dialogue(pair.plan)
            while (messages := dialogue.next_call()) is not None:
                # one call per message of the attack, and per round of tool calls of an agent's defence
                key = f"answer:{sample}:{dialogue.turn}" + (f":r{dialogue.rounds}" if dialogue.rounds else "")
                said = recorded.get(key) or await self.call(pair_id, key, "answer", messages, call_config, pair.plan.tools)
                dialogue.answer(said.text, calls=[ToolCall(*c) for c in said.tool_calls])
            transcripts[sample] = dialogue.transcript()

        jobs = [asyncio.ensure_future(answer(s)) for s in range(samples)]
        try:
            await asyncio.gather(*jobs)
        except (ModelError, CapReached) as exc:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            if isinstance(exc, CapReached):
                return "pending"
            self.astore.finish(pair_id, status="failed", error=f"the model failed: {exc}")
            return "failed"
        said = [t for t in transcripts if t is not None]
        if needs_judge(pair.exercise):
            async def ask_call(call: str, messages: list[dict[str, str]], cfg: llm.CallConfig) -> str:
                found = recorded.get(call)
                return found.text if found is not None else (await self.call(pair_id, call, "judge", messages, cfg)).text

            judge = RecordedJudge(judge_config or replace(config, params={}), ask_call, self.loop)
            try:
                g = await asyncio.to_thread(grade_pair, pair, said, judge)
            except CapReached:
                return "pending"
        else:
            g = grade_pair(pair, said, None)
        calls = self.astore.calls(pair_id).values()
        usage = Usage(sum(c.prompt_tokens for c in calls), sum(c.completion_tokens for c in calls), sum(c.cost_usd for c in calls))
        result = pair_result(pair, g, said, config.model, usage, time.monotonic() - started)
        status = "ungraded" if g.ungraded else "graded"
        error = f"ungraded criteria: {', '.join(g.ungraded)} (the judge gave no usable answer; review it with `lab review`)" if g.ungraded else None
        self.astore.finish(pair_id, status=status, held=g.passed if g.decided else None, score=g.score, result=result, error=error,
                           duration_s=time.monotonic() - started)
        return status


async def _play(astore: ArenaStore, todo: list[tuple[int, Pair | str]], run: ArenaRun, config: llm.CallConfig,
                judge_config: llm.CallConfig | None, concurrency: int, rpm: int | None, max_cost: float | None, paced: bool,
                progress: Any, on_progress: Callable[[Any], None] | None) -> None:
    caller = llm.AsyncCaller(concurrency, rpm)
    if paced and rpm:
        caller.pacer.next_at = time.monotonic() + 60.0 / rpm  # the grading's last call started at most this long ago
    budget = Budget(max_cost)
    player = _Player(astore, caller, budget, run, progress)
    lanes = asyncio.Semaphore(max(1, concurrency) * 2)  # pairs start in order, so the cap stops the schedule's tail

    async def one(pair_id: int, pair: Pair | str) -> None:
        async with lanes:
            if budget.reached:
                return
            status = await player.play(pair_id, pair, config, judge_config)
        if status == "graded":
            progress.done += 1
            run.played += 1
        elif status == "pending":
            run.capped = True
        else:
            progress.failed += 1
        if on_progress is not None:
            on_progress(progress)

    try:
        await asyncio.gather(*(one(pair_id, pair) for pair_id, pair in todo))
    finally:
        await caller.aclose()
    run.capped = run.capped or budget.reached
